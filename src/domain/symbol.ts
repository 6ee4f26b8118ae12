// What a symbol is, everywhere in tickflow: the configuration's --symbols, the processor's
// validation (bad_symbol), the API's parameters and the daily-bar import all apply this one rule.
// Provider adapters may be stricter about what their own provider accepts (Binance: letters and
// digits only), never looser.

const SYMBOL = /^[A-Z0-9][A-Z0-9.\-/:]{0,19}$/

/** The rule in words, for error messages and the API docs. */
export const SYMBOL_RULE = '1 to 20 letters, digits or . - / : starting with a letter or digit (e.g. AAPL)'

/** True for a symbol as stored: upper case, 1 to 20 characters of the rule. */
export function isSymbol(s: string): boolean {
  return SYMBOL.test(s)
}
