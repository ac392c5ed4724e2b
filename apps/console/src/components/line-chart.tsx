import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly color: string;
}

/** A vertical line at `at` (an x value): an event on a time chart, such as a gate verdict. */
export interface Mark {
  readonly at: number;
  readonly color: string;
}

/** Draws the marks over the plot area, after the series, so a verdict reads against the lines it judged. */
function marksPlugin(marks: readonly Mark[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const { ctx, bbox } = u;
        ctx.save();
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        for (const m of marks) {
          const x = Math.round(u.valToPos(m.at, 'x', true));
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.strokeStyle = m.color;
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
        }
        ctx.restore();
      },
    },
  };
}

/**
 * uPlot line chart sized to its container's width: over time (x in unix seconds), or over plain numbers
 * (`time={false}`, e.g. a distribution over buckets). `caption` says in words what the chart shows.
 */
export function LineChart({
  title,
  x,
  series,
  height = 180,
  time = true,
  marks = [],
  caption,
}: {
  title: string;
  x: readonly number[];
  series: readonly Series[];
  height?: number;
  time?: boolean;
  marks?: readonly Mark[];
  caption?: string;
}) {
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
        plugins: marks.length ? [marksPlugin(marks)] : [],
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
  }, [title, x, series, height, time, marks]);
  return (
    <figure class="chart" aria-label={title}>
      <div ref={host} />
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  );
}
