// The dashboard's outputs (bench/run.mjs): a markdown table and an SVG bar
// chart of the ratios to Node, both from the report object it writes as JSON.
// Hand-written SVG, so that a run needs no network and no chart library.
import { BUSY_SHARE } from './busy.mjs';

/** The contenders, in the order of the table's columns and of the chart's bars. */
const COLUMNS = [
  { id: 'node', title: 'Node' },
  { id: 'libev', title: 'hub-libev', color: '#2b6cb0' },
  { id: 'pure', title: 'hub-pure', color: '#38a169' },
  { id: 'gevent', title: 'gevent', color: '#d69e2e' },
  { id: 'eventlet', title: 'eventlet', color: '#c53030' },
  { id: 'node-als', title: 'Node + ALS', color: '#a0aec0' },
];

/** A figure with three significant digits, thousands as k. */
function figure(x) {
  if (x >= 10_000) return `${(x / 1000).toPrecision(3)}k`;
  if (x >= 1000) return x.toFixed(0);
  return x.toPrecision(3);
}

function ratio(x) {
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`;
}

/** The columns some workload has a figure for. */
function usedColumns(report) {
  return COLUMNS.filter((c) => report.workloads.some((w) => w.figures[c.id]));
}

/** A ratio cell is marked when its figure or Node's was taken with the machine busy. */
function busyMark(w, id) {
  return w.figures[id].loaded || w.figures.node.loaded ? ' *' : '';
}

function table(head, body) {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((b) => `| ${b.join(' | ')} |`),
  ];
}

/** The run's description: when, where, with what. */
function runLines(report) {
  const { machine: m, versions: v } = report;
  const python = v.python
    ? `python ${v.python}, gevent ${v.gevent ?? 'not installed'}${v.geventLoop ? ` (${v.geventLoop})` : ''}, eventlet ${v.eventlet ?? 'not installed'}`
    : 'no /usr/bin/python3';
  return [
    `Run ${report.startedAt}${report.quick ? ' (--quick: a smoke run, small counts, NOT figures to publish)' : ''}, ${report.durationS} s.`,
    `Machine: ${m.cores} x ${m.cpu}, ${m.os}; load average before the run ${m.loadBefore.join(' / ')} (1 / 5 / 15 min);` +
      ` servers and load clients ${m.pinned ? 'pinned to different cores' : 'not pinned'}.`,
    `Versions: node ${v.node}, libev ${v.libev ?? 'unknown'}, ${python}.`,
  ];
}

/** The report as markdown: run lines, the chart, ratios, absolute figures, then what each bench measures. */
export function renderMarkdown(report, svgName) {
  const columns = usedColumns(report);
  const others = columns.filter((c) => c.id !== 'node');
  const ratios = table(
    ['workload', 'Node baseline', ...others.map((c) => c.title)],
    report.workloads.map((w) => [
      w.workload,
      w.baseline,
      ...others.map((c) => (w.figures[c.id] ? `${ratio(w.figures[c.id].vsNode)}${busyMark(w, c.id)}` : '')),
    ]),
  );
  const absolute = table(
    ['workload', 'unit', ...columns.map((c) => c.title)],
    report.workloads.map((w) => [
      w.workload,
      `${w.unit} (${w.higherIsBetter ? 'higher' : 'lower'} is better)`,
      ...columns.map((c) => {
        const f = w.figures[c.id];
        if (!f) return '';
        const range = report.repeats > 1 ? ` (${figure(f.min)}-${figure(f.max)})` : '';
        return `${figure(f.median)}${range}${f.loaded ? ' *' : ''}`;
      }),
    ]),
  );
  return [
    '# greenhub benchmarks',
    '',
    ...runLines(report).map((l) => `${l}  `),
    '',
    `![greenhub, gevent and eventlet as ratios to Node](${svgName})`,
    '',
    '## Ratios to Node (higher is better)',
    '',
    "Node's figure / the contender's for times and memory, the contender's / Node's for throughputs;" +
      ' from medians measured in the same run.',
    '',
    ...ratios,
    '',
    `## Absolute figures (median of ${report.repeats}${report.repeats > 1 ? ', min-max' : ''})`,
    '',
    ...absolute,
    '',
    `\`*\`: other processes used more than ${BUSY_SHARE * 100}% of the cores just before a run of this figure` +
      ' (or of its Node baseline): the machine was busy, the figure is less trustworthy.',
    '"Node + ALS": plain promises with an `AsyncLocalStorage` active, Node\'s own way to follow a context' +
      ' across awaits, whose promise hooks tax every promise on Node 20 (greenhub follows the current' +
      ' greenlet for `getcurrent()` with lighter promise hooks of its own).',
    '',
    '## What runs',
    '',
    ...report.benches.map((b) => `- **${b.name}** (\`${b.script}\`): ${b.what}.`),
    ...report.notes.map((n) => `- ${n}.`),
    '',
  ].join('\n');
}

function escapeXml(text) {
  return String(text).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
}

const CHART = { width: 960, labelWidth: 250, right: 70, bar: 12, gap: 2, groupGap: 14, top: 64, bottom: 40 };

/**
 * The ratios as a horizontal grouped bar chart, one group per workload and one
 * bar per contender, on a log scale: each bar grows from the 1.0x line (Node)
 * to the right when better than Node and to the left when worse.
 */
export function renderSvg(report) {
  const contenders = usedColumns(report).filter((c) => c.id !== 'node');
  const groups = report.workloads.map((w) => ({
    w,
    bars: contenders.filter((c) => w.figures[c.id]).map((c) => ({ c, f: w.figures[c.id] })),
  }));
  const values = groups.flatMap((g) => g.bars.map((b) => b.f.vsNode)).filter((v) => v > 0);
  // Half a decade of room at least below the smallest ratio, for the label left of its bar.
  const lo = 10 ** Math.floor(Math.log10(Math.min(1, ...values) / 2));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(1, ...values)));
  const plotLeft = CHART.labelWidth;
  const plotWidth = CHART.width - plotLeft - CHART.right;
  const x = (v) =>
    plotLeft + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotWidth;
  const groupHeight = (g) => g.bars.length * (CHART.bar + CHART.gap) + CHART.groupGap;
  const plotHeight = groups.reduce((sum, g) => sum + groupHeight(g), 0);
  const height = CHART.top + plotHeight + CHART.bottom;
  const out = [];
  const text = (tx, ty, content, attrs = '') =>
    out.push(`<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`);

  text(
    CHART.width / 2,
    20,
    `greenhub, gevent and eventlet against Node: ratio to Node (log scale, higher is better)${report.quick ? ' - SMOKE RUN' : ''}`,
    'text-anchor="middle" font-weight="bold"',
  );
  let legendX = plotLeft;
  for (const c of contenders) {
    out.push(`<rect x="${legendX}" y="32" width="12" height="12" fill="${c.color}"/>`);
    text(legendX + 16, 42, c.title);
    legendX += 24 + c.title.length * 7;
  }
  text(legendX, 42, `* = machine busy (other processes > ${BUSY_SHARE * 100}% of the cores)`, 'fill="#555"');

  // Decades and their 2x and 5x as grid lines, the 1.0x line (Node) darker.
  for (let decade = lo; decade < hi * 1.001; decade *= 10)
    for (const step of [1, 2, 5]) {
      const v = decade * step;
      if (v > hi * 1.001) break;
      const gx = x(v);
      const strong = v === 1;
      out.push(
        `<line x1="${gx.toFixed(1)}" y1="${CHART.top - 6}" x2="${gx.toFixed(1)}" y2="${CHART.top + plotHeight}"` +
          ` stroke="${strong ? '#000' : '#ddd'}" stroke-width="${strong ? 1.5 : 1}"/>`,
      );
      text(
        gx,
        CHART.top + plotHeight + 16,
        `${v}x`,
        `text-anchor="middle" fill="${strong ? '#000' : '#777'}"`,
      );
    }
  text(
    x(1),
    CHART.top + plotHeight + 32,
    '1.0x = Node (promises, node:net, node:http)',
    'text-anchor="middle" fill="#000"',
  );

  let y = CHART.top;
  for (const g of groups) {
    text(
      plotLeft - 8,
      y + (g.bars.length * (CHART.bar + CHART.gap)) / 2 + 4,
      g.w.workload,
      'text-anchor="end"',
    );
    for (const { c, f } of g.bars) {
      const x0 = x(1);
      const x1 = x(f.vsNode);
      const label = `${ratio(f.vsNode)}${busyMark(g.w, c.id)}`;
      out.push(
        `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}"` +
          ` height="${CHART.bar}" fill="${c.color}"><title>${escapeXml(`${g.w.workload}, ${c.title}: ${label}`)}</title></rect>`,
      );
      const after = f.vsNode >= 1;
      text(
        after ? x1 + 4 : x1 - 4,
        y + CHART.bar - 2,
        label,
        `text-anchor="${after ? 'start' : 'end'}" font-size="10"`,
      );
      y += CHART.bar + CHART.gap;
    }
    y += CHART.groupGap;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART.width}" height="${height}" viewBox="0 0 ${CHART.width} ${height}"` +
      ' font-family="sans-serif" font-size="12">',
    `<rect width="${CHART.width}" height="${height}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
