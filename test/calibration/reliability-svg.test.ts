import t from 'tap'
import { fitCalibrator } from '../../src/calibration/fit.js'
import { reliabilityBins } from '../../src/calibration/metrics.js'
import { reliabilityDiagramForFit, renderReliabilitySvg } from '../../src/calibration/reliability-svg.js'
import { labelledScores, sigmoid } from './synthetic.js'

const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0

t.test('diagram has both curves, the diagonal, count bars, title and ECE legend', async (t) => {
  const before = reliabilityBins([0.05, 0.06, 0.5, 0.55, 0.9], [0, 1, 1, 1, 1])
  const after = reliabilityBins([0.2, 0.3, 0.7, 0.75, 0.95], [0, 1, 1, 1, 1])
  const svg = renderReliabilitySvg({ title: 'cross-encoder <dev> & "qrels"', before: { bins: before, ece: 0.1234 }, after: { bins: after, ece: 0.0456 } })
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.match(svg, /<\/svg>\n$/)
  t.match(svg, />cross-encoder &lt;dev&gt; &amp; &quot;qrels&quot;</, 'title is escaped')
  t.match(svg, /Before \(ECE 0\.123\)/)
  t.match(svg, /After \(ECE 0\.046\)/)
  t.match(svg, /Perfectly calibrated/)
  t.equal(count(svg, /class="curve-before"/g), 1)
  t.equal(count(svg, /class="curve-after"/g), 1)
  t.equal(count(svg, /<circle /g), before.filter((b) => b.count > 0).length + after.filter((b) => b.count > 0).length)
  t.equal(count(svg, /class="count-before"/g), 15, 'one bar per bin, empty ones included')
  t.equal(count(svg, /class="count-after"/g), 15)
  t.match(svg, /Examples per bin \(max 2\)/)
  t.notMatch(svg, /NaN|undefined|null/)
  t.equal(count(svg, /<(?!\/)[a-z]+[^>]*[^/]>/g), count(svg, /<\/[a-z]+>/g), 'every non-self-closing tag is closed')
})

t.test('a fit renders its held-out diagram', async (t) => {
  const { scores, labels } = labelledScores(3, 400, -5, 5, (s) => sigmoid(s / 2))
  const fit = fitCalibrator(scores.map((score, i) => ({ score, label: labels[i]! })))
  const svg = reliabilityDiagramForFit(fit)
  t.match(svg, /Reliability \(platt, n = 400\)/)
  t.match(svg, new RegExp(`After \\(ECE ${fit.heldOut.after.ece.toFixed(3)}\\)`))
  t.equal(renderReliabilitySvg({ title: 'empty', before: { bins: [], ece: 0 }, after: { bins: [], ece: 0 } }).includes('<polyline'), false)
})
