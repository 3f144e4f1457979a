import { useEffect, useRef } from 'preact/hooks';
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
  type ChartDataset,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

/** A colour-blind-safe palette (Okabe-Ito), one colour per series. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

export interface Series {
  label: string;
  values: number[];
  /** Draw this series as a dashed line on the right axis (e.g. requests over credits). */
  line?: boolean;
  /** Index into the palette; series that share one (a model's credits and requests) share a colour. */
  colour?: number;
}

/** A stacked bar chart (with optional line series), redrawn when its data change. */
export function BarChart(props: { labels: string[]; series: Series[]; title: string; yTitle: string; y2Title?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const datasets = props.series.map((s, i): ChartDataset<'bar' | 'line', number[]> => {
      const colour = PALETTE[(s.colour ?? i) % PALETTE.length];
      return {
        type: s.line ? 'line' : 'bar', label: s.label, data: s.values, backgroundColor: colour, borderColor: colour,
        yAxisID: s.line ? 'y2' : 'y', ...(s.line ? { borderDash: [6, 4], pointRadius: 3 } : { stack: 'bars' }),
      };
    });
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: { labels: props.labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { position: 'bottom' } },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: props.yTitle } },
          ...(props.y2Title ? { y2: { position: 'right' as const, beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: props.y2Title } } } : {}),
        },
      },
    });
    return () => chart.destroy();
  }, [props.labels, props.series, props.yTitle, props.y2Title]);
  return (
    <figure class="chart">
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={props.title} />
      </div>
      <figcaption class="muted">{props.title}</figcaption>
    </figure>
  );
}
