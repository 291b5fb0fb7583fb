// The host's cache of lens results, keyed by uri + document version: a new version of a file drops every entry
// of the old one (its encoding is stale), and the whole cache is bounded (least recently used goes first).

export class LensCache<V> {
  private readonly entries = new Map<string, V>();
  private readonly versions = new Map<string, number>();

  constructor(private readonly capacity = 64) {}

  get(uri: string, version: number, key: string): V | undefined {
    const k = this.key(uri, version, key);
    const v = this.entries.get(k);
    if (v !== undefined) { this.entries.delete(k); this.entries.set(k, v); } // refresh recency
    return v;
  }

  set(uri: string, version: number, key: string, value: V): void {
    if (this.versions.get(uri) !== version) this.dropUri(uri);
    this.versions.set(uri, version);
    const k = this.key(uri, version, key);
    this.entries.delete(k);
    this.entries.set(k, value);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Values cached for this exact version of the file, most recent last. */
  valuesFor(uri: string, version: number): V[] {
    const prefix = this.key(uri, version, '');
    return [...this.entries].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }

  dropUri(uri: string): void {
    const prefix = `${uri}\u0000`;
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
    this.versions.delete(uri);
  }

  get size(): number {
    return this.entries.size;
  }

  private key(uri: string, version: number, key: string): string {
    return `${uri}\u0000${version}\u0000${key}`;
  }
}
