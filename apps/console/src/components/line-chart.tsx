import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly color: string;
}

/**
 * uPlot line chart sized to its container's width: over time (x in unix seconds), or over plain numbers
 * (`time={false}`, e.g. a distribution over buckets).
 */
export function LineChart({ title, x, series, height = 180, time = true }: { title: string; x: readonly number[]; series: readonly Series[]; height?: number; time?: boolean }) {
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
        scales: { x: { time } },
        // A wider y axis: counts in the tens of thousands were cut off at uPlot's default width.
        axes: [{}, { size: 60 }],
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
  }, [title, x, series, height, time]);
  return <figure class="chart" ref={host} aria-label={title} />;
}
