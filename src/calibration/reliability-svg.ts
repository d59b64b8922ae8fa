import type { CalibrationFit } from './fit.js'
import type { ReliabilityBin } from './metrics.js'

/**
 * A reliability diagram as a standalone SVG string: observed frequency against mean predicted
 * probability per bin, before and after calibration, the diagonal a calibrated model would follow, and
 * beneath it the bin counts as bars (a curve point over ten examples means less than one over ten
 * thousand). Pure: no I/O, the caller writes the string where it likes.
 *
 * @example
 *   const fit = fitCalibrator(examples)
 *   await writeFile('reliability.svg', reliabilityDiagramForFit(fit, 'cross-encoder on dev qrels'))
 */
export interface ReliabilityCurve {
  bins: readonly ReliabilityBin[]
  ece: number
}

export interface ReliabilityDiagram {
  title: string
  before: ReliabilityCurve
  after: ReliabilityCurve
}

const WIDTH = 560
const PLOT = { left: 64, top: 56, size: 440 }
const BARS = { top: PLOT.top + PLOT.size + 66, height: 90 }
const HEIGHT = BARS.top + BARS.height + 48
const COLOURS = { before: '#d95f02', after: '#1b6fb5', diagonal: '#888888', axis: '#333333', grid: '#e6e6e6' }

const fmt = (v: number): string => String(Math.round(v * 100) / 100)
const escapeXml = (text: string): string =>
  text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)

const px = (p: number): number => PLOT.left + p * PLOT.size
const py = (p: number): number => PLOT.top + (1 - p) * PLOT.size

export function renderReliabilitySvg(diagram: ReliabilityDiagram): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(diagram.title)}</text>`,
    ...axes(),
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="${COLOURS.diagonal}" stroke-dasharray="6 4"/>`,
    ...curve(diagram.before.bins, COLOURS.before, 'before'),
    ...curve(diagram.after.bins, COLOURS.after, 'after'),
    ...legend(diagram),
    ...countBars(diagram),
    '</svg>',
  ]
  return parts.join('\n') + '\n'
}

/** The diagram of a fit's held-out predictions. */
export const reliabilityDiagramForFit = (fit: CalibrationFit, title = `Reliability (${fit.method}, n = ${fit.n})`): string =>
  renderReliabilitySvg({
    title,
    before: { bins: fit.heldOut.reliability.before, ece: fit.heldOut.before.ece },
    after: { bins: fit.heldOut.reliability.after, ece: fit.heldOut.after.ece },
  })

function axes(): string[] {
  const out: string[] = []
  for (let k = 0; k <= 5; k++) {
    const v = k / 5
    out.push(
      `<line x1="${px(v)}" y1="${py(0)}" x2="${px(v)}" y2="${py(1)}" stroke="${COLOURS.grid}"/>`,
      `<line x1="${px(0)}" y1="${py(v)}" x2="${px(1)}" y2="${py(v)}" stroke="${COLOURS.grid}"/>`,
      `<text x="${px(v)}" y="${py(0) + 16}" text-anchor="middle">${v.toFixed(1)}</text>`,
      `<text x="${px(0) - 8}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
    )
  }
  out.push(
    `<rect x="${px(0)}" y="${py(1)}" width="${PLOT.size}" height="${PLOT.size}" fill="none" stroke="${COLOURS.axis}"/>`,
    `<text x="${px(0.5)}" y="${py(0) + 32}" text-anchor="middle">Mean predicted probability</text>`,
    `<text transform="translate(${PLOT.left - 44} ${py(0.5)}) rotate(-90)" text-anchor="middle">Observed frequency</text>`,
  )
  return out
}

function curve(bins: readonly ReliabilityBin[], colour: string, name: string): string[] {
  const points = bins.filter((b) => b.count > 0).map((b) => ({ x: px(b.meanPredicted!), y: py(b.observedFrequency!), bin: b }))
  if (points.length === 0) return []
  return [
    `<polyline class="curve-${name}" fill="none" stroke="${colour}" stroke-width="2" points="${points.map((p) => `${fmt(p.x)},${fmt(p.y)}`).join(' ')}"/>`,
    ...points.map(
      (p) =>
        `<circle cx="${fmt(p.x)}" cy="${fmt(p.y)}" r="3.5" fill="${colour}"><title>${name}: predicted ${p.bin.meanPredicted!.toFixed(3)}, observed ${p.bin.observedFrequency!.toFixed(3)}, n = ${p.bin.count}</title></circle>`,
    ),
  ]
}

function legend(diagram: ReliabilityDiagram): string[] {
  const x = px(0) + 14
  const y = py(1) + 18
  const entries = [
    { colour: COLOURS.before, dash: '', label: `Before (ECE ${diagram.before.ece.toFixed(3)})` },
    { colour: COLOURS.after, dash: '', label: `After (ECE ${diagram.after.ece.toFixed(3)})` },
    { colour: COLOURS.diagonal, dash: ' stroke-dasharray="6 4"', label: 'Perfectly calibrated' },
  ]
  return [
    `<rect x="${x - 8}" y="${y - 14}" width="200" height="${entries.length * 18 + 8}" fill="#ffffff" fill-opacity="0.85" stroke="${COLOURS.grid}"/>`,
    ...entries.flatMap((e, k) => [
      `<line x1="${x}" y1="${y + k * 18 - 4}" x2="${x + 24}" y2="${y + k * 18 - 4}" stroke="${e.colour}" stroke-width="2"${e.dash}/>`,
      `<text x="${x + 32}" y="${y + k * 18}">${escapeXml(e.label)}</text>`,
    ]),
  ]
}

/** Side-by-side bars per bin, before and after, scaled to the largest count of either. */
function countBars(diagram: ReliabilityDiagram): string[] {
  const { before, after } = diagram
  const max = Math.max(1, ...before.bins.map((b) => b.count), ...after.bins.map((b) => b.count))
  const bottom = BARS.top + BARS.height
  const bar = (bin: ReliabilityBin, colour: string, offset: number, name: string): string => {
    const slot = (px(bin.upper) - px(bin.lower)) / 2
    const height = (bin.count / max) * BARS.height
    return `<rect class="count-${name}" x="${fmt(px(bin.lower) + offset * slot + 1)}" y="${fmt(bottom - height)}" width="${fmt(slot - 2)}" height="${fmt(height)}" fill="${colour}" fill-opacity="0.7"><title>${name}: ${bin.count} in (${bin.lower.toFixed(2)}, ${bin.upper.toFixed(2)}]</title></rect>`
  }
  return [
    `<text x="${px(0)}" y="${BARS.top - 8}">Examples per bin (max ${max})</text>`,
    `<line x1="${px(0)}" y1="${bottom}" x2="${px(1)}" y2="${bottom}" stroke="${COLOURS.axis}"/>`,
    ...before.bins.map((b) => bar(b, COLOURS.before, 0, 'before')),
    ...after.bins.map((b) => bar(b, COLOURS.after, 1, 'after')),
    ...[0, 0.2, 0.4, 0.6, 0.8, 1].map((v) => `<text x="${px(v)}" y="${bottom + 16}" text-anchor="middle">${v.toFixed(1)}</text>`),
    `<text x="${px(0.5)}" y="${bottom + 34}" text-anchor="middle">Predicted probability bin</text>`,
  ]
}
