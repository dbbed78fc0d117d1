import { memo, useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartData } from "./format";

const COLORS = ["#4da3ff", "#5fd38d", "#f0a35e", "#c48bff", "#ff6b6b", "#e3d26f", "#6fd3d3"];
const AXIS = { stroke: "#8b95a3", grid: { stroke: "#2a313b", width: 1 }, ticks: { show: false } };

/**
 * A uPlot line chart. React renders only the container: the plot is built once per set of series and
 * `setData` feeds new points, so live updates never rebuild the DOM.
 */
export const Chart = memo(function Chart({
  label,
  data,
  height = 160,
}: {
  label: string;
  data: ChartData;
  height?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = data.names.join("\u0000");

  // biome-ignore lint/correctness/useExhaustiveDependencies: rebuilt only when the series change
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: data.names.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false } },
      axes: [
        { ...AXIS, values: (_u, ticks) => ticks.map(shortCount) },
        { ...AXIS, size: 48 },
      ],
      series: [
        { label: "step" },
        ...data.names.map((name, i) => ({
          label: name,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          // A series with a single point (a check judged once so far) would draw nothing as a line.
          points: { show: (self: uPlot, si: number) => countPoints(self.data[si]) < 3 },
        })),
      ],
    };
    const u = new uPlot(opts, data.columns as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() =>
      u.setSize({ width: Math.max(200, el.clientWidth), height }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [seriesKey, height]);

  useEffect(() => {
    plot.current?.setData(data.columns as uPlot.AlignedData);
  }, [data]);

  return (
    <figure className="chart-figure">
      <figcaption>{label}</figcaption>
      <div className="chart" role="img" aria-label={label} ref={host} />
    </figure>
  );
});

function countPoints(values: ArrayLike<number | null | undefined> | undefined): number {
  let n = 0;
  for (let i = 0; i < (values?.length ?? 0); i++) if (values?.[i] != null) n++;
  return n;
}

function shortCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}
