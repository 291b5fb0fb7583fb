// One tokeniser for both sides of lexical search: chunk text is turned into a space-separated token string
// before it reaches FTS5, and queries go through the same function, so "parseConfigFile", "parse_config_file"
// and "parse config file" meet. FTS5 then only lower-cases and stems (porter) what we hand it.

/** Identifier-like runs; digits alone are dropped later (line numbers, constants add noise, not meaning). */
const WORD = /[A-Za-z_$][A-Za-z0-9_$]*|[0-9]+/g;
/** Boundaries inside one identifier: lower→Upper, ACRONYMWord, letter↔digit, and _ / $. */
const CAMEL = /([a-z0-9])([A-Z])|([A-Z]+)([A-Z][a-z])|([A-Za-z])([0-9])|([0-9])([A-Za-z])/g;

/** Words a natural-language query uses for grammar, not meaning. Applied to queries only. */
const STOP_WORDS = new Set((
  'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
  'itself me my no nor not of on or our so some such than that the their them then there these they this ' +
  'those to too very was we were what when where which while who whom why will with would you your ' +
  'should may might must shall also any all each every both either neither other given using used use via ' +
  'just only own same here above below up down out over under again further once per whether'
).split(' '));

/** Splits one identifier into lower-case parts: "HTTPServerError_2" → ["http", "server", "error", "2"]. */
export function splitIdentifier(word: string): string[] {
  return word
    .replace(CAMEL, (_m, a, b, c, d, e, f, g, h) => (a !== undefined ? `${a} ${b}` : c !== undefined ? `${c} ${d}`
      : e !== undefined ? `${e} ${f}` : `${g} ${h}`))
    .replace(CAMEL, (_m, a, b, c, d, e, f, g, h) => (a !== undefined ? `${a} ${b}` : c !== undefined ? `${c} ${d}`
      : e !== undefined ? `${e} ${f}` : `${g} ${h}`))
    .split(/[_$\s]+/)
    .filter((p) => p.length > 0)
    .map((p) => p.toLowerCase());
}

/** Tokens of one word: its parts, plus the whole identifier when it had several parts. */
function wordTokens(word: string, out: string[]): void {
  const parts = splitIdentifier(word);
  for (const p of parts) if (keepPart(p)) out.push(p);
  if (parts.length > 1) {
    const whole = word.toLowerCase().replace(/\$/g, '_');
    if (whole.length <= 64) out.push(whole);
  }
}

function keepPart(p: string): boolean {
  return p.length >= 2 && p.length <= 40 && !/^[0-9]+$/.test(p);
}

/** Text → token string for the FTS5 body column (order kept; FTS5 only counts frequencies). */
export function indexTokens(text: string): string {
  const out: string[] = [];
  for (const m of text.matchAll(WORD)) wordTokens(m[0], out);
  return out.join(' ');
}

/** Query → distinct tokens, stop words removed unless nothing else is left. */
export function queryTokens(query: string): string[] {
  const all: string[] = [];
  for (const m of query.matchAll(WORD)) wordTokens(m[0], all);
  const content = all.filter((t) => !STOP_WORDS.has(t));
  return [...new Set(content.length > 0 ? content : all)];
}

/** An FTS5 MATCH expression with OR semantics; tokens are quoted so no query text is FTS syntax. */
export function toMatchExpression(tokens: readonly string[]): string {
  return tokens.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}
