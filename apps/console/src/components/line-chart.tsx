import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly color: string;
}

/** uPlot line chart over time (x in unix seconds), sized to its container's width. */
export function LineChart({ title, x, series, height = 180 }: { title: string; x: readonly number[]; series: readonly Series[]; height?: number }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const plot = new uPlot(
      {
        title,
        width: Math.max(280, el.clientWidth),
        height,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true }))],
        axes: [{}, {}],
      },
      [x as number[], ...series.map((s) => s.values as (number | null)[])],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [title, x, series, height]);
  return <figure class="chart" ref={host} aria-label={title} />;
}
