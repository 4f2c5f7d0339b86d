// "Did you mean …?" for config field names and API route keys: the nearest known
// name by edit distance, when it is close enough to be a plausible typo.

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // d[i][j] = distance between s[0..i) and t[0..j); three rows are enough for transpositions.
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, (prev2[j - 2] as number) + 1);
      cur.push(v);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[t.length] as number;
}

/**
 * The candidate nearest to `name`, or `undefined` when none is close: at most one
 * edit for names up to 4 characters, two up to 8, three beyond (`adress` →
 * `address`, `fss` → `fs`, `/v1/key/create` → `/v1/key/create/`).
 *
 * @example
 * nearestName('adress', ['address', 'admin']); // 'address'
 */
export function nearestName(name: string, candidates: Iterable<string>): string | undefined {
  const limit = name.length <= 4 ? 1 : name.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean 'x'?)` or `''`. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const n = nearestName(name, candidates);
  return n === undefined ? '' : ` (did you mean '${n}'?)`;
}
