// Sale conditions and what they let a trade update in a bar, by the consolidated tapes' rules.
//
// A trade's conditions are stored normalised as `<plan>:<code>`: the code exactly as the securities
// information processor (SIP) publishes it, qualified by the plan whose sale-condition matrix
// governs it — `CTA:` for Tape A and B securities (CTS feed), `UTP:` for Tape C (UTDF feed). The
// same letter means different things on the two feeds (`B` is an average-price trade on CTA, a
// bunched trade on UTP), so a bare code cannot be looked up. Codes a provider sends that have no
// SIP code (Finnhub's own numbering, a Polygon id without a mapping for the trade's tape) are kept
// as `<provider>:<code>`. Finnhub's numbers name a SIP condition without the tape: those whose
// condition has the same effect in whichever matrix can carry it are in the rule table (FINNHUB
// below); the others are not.
//
// The rule table holds the consolidated columns of the two matrices (docs/analytics.md cites the
// documents): does a trade with this condition update the bar's open/close ("last"), its high/low,
// its volume. A trade with several conditions updates a field only when every one of them allows
// it. Matrix entries that say "yes only if it is the first or only last-sale-eligible trade of the
// business day" need state over the whole day that a bar does not have: they count as "no".

/** Which fields of a bar a trade may update. */
export interface Effect {
  /** open and close (the matrices' "last") */
  last: boolean
  highLow: boolean
  volume: boolean
}

export interface Rule extends Effect {
  name: string
}

export const EVERY_FIELD: Effect = Object.freeze({ last: true, highLow: true, volume: true })

type Row = [code: string, name: string, highLow: 'Y' | 'N', last: 'Y' | 'N', volume: 'Y' | 'N']

// UTP Plan Trade Data Feed (UTDF), sale condition modifiers, consolidated processing.
const UTP: Row[] = [
  ['@', 'Regular Sale', 'Y', 'Y', 'Y'],
  ['A', 'Acquisition', 'Y', 'Y', 'Y'],
  ['B', 'Bunched Trade', 'Y', 'Y', 'Y'],
  ['C', 'Cash Sale', 'N', 'N', 'Y'],
  ['D', 'Distribution', 'Y', 'Y', 'Y'],
  ['E', 'Placeholder', 'N', 'N', 'N'],
  ['F', 'Intermarket Sweep', 'Y', 'Y', 'Y'],
  ['G', 'Bunched Sold Trade', 'Y', 'N', 'Y'],
  ['H', 'Price Variation Trade', 'N', 'N', 'Y'],
  ['I', 'Odd Lot Trade', 'N', 'N', 'Y'],
  ['K', 'Rule 155 Trade (AMEX)', 'Y', 'Y', 'Y'],
  ['L', 'Sold Last', 'Y', 'Y', 'Y'],
  ['M', 'Market Center Official Close', 'N', 'N', 'N'],
  ['N', 'Next Day', 'N', 'N', 'Y'],
  ['O', 'Opening Prints', 'Y', 'Y', 'Y'],
  ['P', 'Prior Reference Price', 'Y', 'N', 'Y'],
  ['Q', 'Market Center Official Open', 'N', 'N', 'N'],
  ['R', 'Seller', 'Y', 'N', 'Y'],
  ['S', 'Split Trade', 'Y', 'Y', 'Y'],
  ['T', 'Form T', 'N', 'N', 'Y'],
  ['U', 'Extended Trading Hours (Sold Out of Sequence)', 'N', 'N', 'Y'],
  ['V', 'Contingent Trade', 'N', 'N', 'Y'],
  ['W', 'Average Price Trade', 'N', 'N', 'Y'],
  ['X', 'Cross Trade', 'Y', 'Y', 'Y'],
  ['Y', 'Yellow Flag Regular Trade', 'Y', 'Y', 'Y'],
  ['Z', 'Sold (Out of Sequence)', 'Y', 'N', 'Y'],
  ['1', 'Stopped Stock (Regular Trade)', 'Y', 'Y', 'Y'],
  ['4', 'Derivatively Priced', 'Y', 'N', 'Y'],
  ['5', 'Re-Opening Prints', 'Y', 'Y', 'Y'],
  ['6', 'Closing Prints', 'Y', 'Y', 'Y'],
  ['7', 'Qualified Contingent Trade', 'N', 'N', 'Y'],
  ['9', 'Corrected Consolidated Close (per listing market)', 'Y', 'Y', 'N'],
]

// CTA Consolidated Tape System (CTS), sale conditions, consolidated processing.
const CTA: Row[] = [
  ['@', 'Regular Sale', 'Y', 'Y', 'Y'],
  ['B', 'Average Price Trade', 'N', 'N', 'Y'],
  ['C', 'Cash Trade (Same Day Clearing)', 'N', 'N', 'Y'],
  ['E', 'Automatic Execution', 'Y', 'Y', 'Y'],
  ['F', 'Intermarket Sweep Order', 'Y', 'Y', 'Y'],
  ['H', 'Price Variation Trade', 'N', 'N', 'Y'],
  ['I', 'Odd Lot Trade', 'N', 'N', 'Y'],
  ['K', 'Rule 127 (NYSE) / Rule 155 (NYSE American)', 'Y', 'Y', 'Y'],
  ['L', 'Sold Last (Late Reporting)', 'Y', 'Y', 'Y'],
  ['M', 'Market Center Official Close', 'N', 'N', 'N'],
  ['N', 'Next Day Trade', 'N', 'N', 'Y'],
  ['O', 'Market Center Opening Trade', 'Y', 'Y', 'Y'],
  ['P', 'Prior Reference Price', 'Y', 'N', 'Y'],
  ['Q', 'Market Center Official Open', 'N', 'N', 'N'],
  ['R', 'Seller', 'Y', 'N', 'Y'],
  ['T', 'Extended Hours Trade', 'N', 'N', 'Y'],
  ['U', 'Extended Hours Sold (Out of Sequence)', 'N', 'N', 'Y'],
  ['V', 'Contingent Trade', 'N', 'N', 'Y'],
  ['X', 'Cross Trade', 'Y', 'Y', 'Y'],
  ['Z', 'Sold (Out of Sequence)', 'Y', 'N', 'Y'],
  ['4', 'Derivatively Priced', 'Y', 'N', 'Y'],
  ['5', 'Market Center Reopening Trade', 'Y', 'Y', 'Y'],
  ['6', 'Market Center Closing Trade', 'Y', 'Y', 'Y'],
  ['7', 'Qualified Contingent Trade', 'N', 'N', 'Y'],
  ['9', 'Corrected Consolidated Close (per listing market)', 'Y', 'Y', 'N'],
]

// Finnhub's trade-condition list (US), by number: the SIP conditions of the same meaning. Finnhub
// sends no tape, so a number is mapped only when every plan's condition of that meaning has the same
// effect. Not mapped: 11 Cap Election, 27 Stock Option Trade, 38 Placeholder for 611 Exempt,
// 40 Opened, 41 Trade Through Exempt (not in the matrices' consolidated columns above).
const FINNHUB: [code: string, name: string, sip: string[]][] = [
  ['1', 'Regular', ['CTA:@', 'UTP:@']],
  ['2', 'Acquisition', ['UTP:A']],
  ['3', 'Average Price Trade', ['CTA:B', 'UTP:W']],
  ['4', 'Bunched', ['UTP:B']],
  ['5', 'Cash Sale', ['CTA:C', 'UTP:C']],
  ['6', 'Distribution', ['UTP:D']],
  ['7', 'Automatic Execution', ['CTA:E']],
  ['8', 'Intermarket Sweep Order', ['CTA:F', 'UTP:F']],
  ['9', 'Bunched Sold', ['UTP:G']],
  ['10', 'Price Variation Trade', ['CTA:H', 'UTP:H']],
  ['12', 'Odd Lot Trade', ['CTA:I', 'UTP:I']],
  ['13', 'Rule 127', ['CTA:K']],
  ['14', 'Rule 155', ['CTA:K', 'UTP:K']],
  ['15', 'Sold Last', ['CTA:L', 'UTP:L']],
  ['16', 'Market Center Official Close', ['CTA:M', 'UTP:M']],
  ['17', 'Next Day', ['CTA:N', 'UTP:N']],
  ['18', 'Market Center Opening Trade', ['CTA:O']],
  ['19', 'Opening Prints', ['UTP:O']],
  ['20', 'Market Center Official Open', ['CTA:Q', 'UTP:Q']],
  ['21', 'Prior Reference Price', ['CTA:P', 'UTP:P']],
  ['22', 'Seller', ['CTA:R', 'UTP:R']],
  ['23', 'Split Trade', ['UTP:S']],
  ['24', 'Form-T Trade', ['CTA:T', 'UTP:T']],
  ['25', 'Extended Hours (Sold Out of Sequence)', ['CTA:U', 'UTP:U']],
  ['26', 'Contingent Trade', ['CTA:V', 'UTP:V']],
  ['28', 'Cross Trade', ['CTA:X', 'UTP:X']],
  ['29', 'Yellow Flag', ['UTP:Y']],
  ['30', 'Sold (Out of Sequence)', ['CTA:Z', 'UTP:Z']],
  ['31', 'Stopped Stock', ['UTP:1']],
  ['32', 'Derivatively Priced', ['CTA:4', 'UTP:4']],
  ['33', 'Market Center Re-opening Trade', ['CTA:5']],
  ['34', 'Re-opening Prints', ['UTP:5']],
  ['35', 'Market Center Closing Trade', ['CTA:6']],
  ['36', 'Closing Prints', ['UTP:6']],
  ['37', 'Qualified Contingent Trade', ['CTA:7', 'UTP:7']],
  ['39', 'Corrected Consolidated Close', ['CTA:9', 'UTP:9']],
]

export type Plan = 'CTA' | 'UTP'

const table = (plan: Plan, rows: Row[]): [string, Rule][] =>
  rows.map(([code, name, hl, last, volume]) => [
    `${plan}:${code}`,
    { name, highLow: hl === 'Y', last: last === 'Y', volume: volume === 'Y' },
  ])

const SIP_RULES = new Map([...table('CTA', CTA), ...table('UTP', UTP)])

const sameEffect = (a: Effect, b: Effect): boolean =>
  a.last === b.last && a.highLow === b.highLow && a.volume === b.volume

/** A Finnhub number's rule: the one effect of its SIP conditions (they must agree). */
function finnhubRule(code: string, name: string, sip: string[]): [string, Rule] {
  const rules = sip.map((c) => SIP_RULES.get(c)!)
  if (rules.some((r) => r === undefined || !sameEffect(r, rules[0]!)))
    throw new Error(`finnhub:${code} (${name}): ${sip.join(', ')} are not one effect`)
  const { last, highLow, volume } = rules[0]!
  return [`finnhub:${code}`, { name, last, highLow, volume }]
}

/** The US-equity rule table: normalised condition → what it lets a trade update. */
export const US_EQUITY_RULES: ReadonlyMap<string, Rule> = new Map([
  ...SIP_RULES,
  ...FINNHUB.map(([code, name, sip]) => finnhubRule(code, name, sip)),
])

/** The conditions of a US-equity trade that the rule table does not know (they restrict nothing). */
export function unmappedConditions(
  source: string,
  conditions: readonly string[] | null | undefined,
): string[] {
  if (!conditions || marketOf(source) === 'crypto') return []
  return conditions.filter((c) => !US_EQUITY_RULES.has(c))
}

/**
 * Sources whose trades are crypto: no consolidated tape, every trade counts in every field, whatever
 * conditions it carries. Every other source's trades are read by the US-equity rule table.
 */
export const CRYPTO_SOURCES: readonly string[] = ['binance', 'simulator']

/** The rule set a source's trades are read by: the name of its market. */
export const marketOf = (source: string): 'crypto' | 'us-equity' =>
  CRYPTO_SOURCES.includes(source) ? 'crypto' : 'us-equity'

/** What a trade of `source` with these conditions may update in a bar. */
export function effectOf(source: string, conditions: readonly string[] | null | undefined): Effect {
  if (!conditions || conditions.length === 0 || marketOf(source) === 'crypto') return EVERY_FIELD
  let last = true
  let highLow = true
  let volume = true
  for (const c of conditions) {
    const r = US_EQUITY_RULES.get(c)
    if (r === undefined) continue // not in the matrices: it restricts nothing
    last &&= r.last
    highLow &&= r.highLow
    volume &&= r.volume
  }
  return last && highLow && volume ? EVERY_FIELD : { last, highLow, volume }
}

/** The plan of a SIP tape letter (A, B: CTA; C: UTP), or undefined. */
export function planOfTape(tape: unknown): Plan | undefined {
  if (tape === 'A' || tape === 'B') return 'CTA'
  if (tape === 'C') return 'UTP'
  return undefined
}

/**
 * A SIP code as a provider sends it, qualified by its plan: a blank code is the regular sale (`@`);
 * without a known plan it is kept as `<provider>:<code>`.
 */
export function qualify(code: string, plan: Plan | undefined, provider: string): string {
  const c = code.trim() === '' ? '@' : code.trim()
  return plan === undefined ? `${provider}:${c}` : `${plan}:${c}`
}

/**
 * A provider's list of condition codes (strings or integers), or undefined when it sent none; null
 * when the field is there but is not such a list (the trade is malformed, not silently regular).
 */
export function rawCodes(v: unknown): string[] | undefined | null {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) return null
  const out: string[] = []
  for (const c of v as unknown[]) {
    if (typeof c === 'string') out.push(c)
    else if (typeof c === 'number' && Number.isInteger(c)) out.push(String(c))
    else return null
  }
  return out
}
