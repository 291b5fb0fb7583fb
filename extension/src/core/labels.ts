// Words users read for the chunker's internal kinds. The chunker's names stay as they are in the index (tests,
// CLI --json); what a person sees in a result list is this.
const KIND_LABELS: Record<string, string> = {
  window: 'lines',              // a run of lines of a file without a parser (or outside every symbol)
  block: 'top-level code',      // lines between the symbols of a parsed file
  group: 'several small parts', // neighbouring small symbols and lines packed into one chunk
};

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}
