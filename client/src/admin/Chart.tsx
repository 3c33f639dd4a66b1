/**
 * A uPlot time-series chart of the admin history. uPlot draws on a canvas
 * and sets sizes through the CSSOM, which the `style-src 'self'` policy
 * allows; its stylesheet is imported as a file.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import type { AdminSample } from '../../../shared/wire/admin';

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly value: (sample: AdminSample) => number | null;
}

interface Props {
  readonly title: string;
  readonly samples: readonly AdminSample[];
  readonly series: readonly ChartSeries[];
}

const CHART_HEIGHT = 160;

function toData(
  samples: readonly AdminSample[],
  series: readonly ChartSeries[],
): uPlot.AlignedData {
  return [
    samples.map((sample) => sample.at / 1000),
    ...series.map((line) => samples.map((sample) => line.value(sample))),
  ];
}

export function Chart({ title, samples, series }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: CHART_HEIGHT,
        series: [
          {},
          ...series.map((line) => ({
            label: line.label,
            stroke: line.color,
            width: 2,
          })),
        ],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      [[], ...series.map(() => [])],
      element,
    );
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      chart.setSize({
        width: Math.max(200, element.clientWidth),
        height: CHART_HEIGHT,
      });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [series]);

  useEffect(() => {
    plot.current?.setData(toData(samples, series));
  }, [samples, series]);

  return (
    <figure className="admin-chart">
      <figcaption>{title}</figcaption>
      <div ref={container} className="admin-chart-canvas" />
    </figure>
  );
}
