// Rendering of config paths (`policy.my-app.allow[0]`, `api["/v1/status"].timeout`)
// and a best-effort lookup of the line a path is written on. js-yaml does not keep
// node positions, so the line is found by walking the block-style text by indentation.

/** One step of a path: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `['policy', 'app', 'allow', 0]` → `policy.app.allow[0]`; odd keys are quoted. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (PLAIN_KEY.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out === '' ? '(root)' : out;
}

interface Frame {
  indent: number;
  segment: PathSegment;
}

function stripQuotes(k: string): string {
  const t = k.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t;
}

/**
 * The 1-based line where `segments` is written in block-style YAML `text`, or
 * the line of the deepest ancestor found, or `undefined`.
 */
export function locateLine(text: string, segments: readonly PathSegment[]): number | undefined {
  const lines = text.split(/\r?\n/);
  const stack: Frame[] = [];
  const counters = new Map<string, number>();
  let best: { depth: number; line: number } | undefined;

  // Returns true on an exact match; remembers the deepest matching ancestor.
  const visit = (line: number): boolean => {
    const path = stack.map((f) => f.segment);
    let depth = 0;
    while (depth < path.length && depth < segments.length && path[depth] === segments[depth]) depth++;
    if (depth === path.length && (!best || depth > best.depth)) best = { depth, line };
    return depth === segments.length && path.length === segments.length;
  };

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (/^---/.test(raw) && stack.length > 0) break; // only the first document counts
    if (/^\s*(#.*)?$/.test(raw) || /^(---|\.\.\.)/.test(raw)) continue;
    let col = raw.length - raw.trimStart().length;
    let rest = raw.trimStart();
    while (rest === '-' || rest.startsWith('- ')) {
      while (stack.length > 0) {
        const top = stack[stack.length - 1] as Frame;
        if (top.indent > col || (top.indent === col && typeof top.segment === 'number')) stack.pop();
        else break;
      }
      const key = `${stack.map((f) => String(f.segment)).join('\u0000')}@${col}`;
      const index = counters.get(key) ?? 0;
      counters.set(key, index + 1);
      stack.push({ indent: col, segment: index });
      if (visit(i + 1)) return i + 1;
      const after = rest.slice(1);
      col += 1 + (after.length - after.trimStart().length);
      rest = after.trimStart();
    }
    const m = /^("[^"]*"|'[^']*'|[^:#'"]+?)\s*:(\s|$)/.exec(rest);
    if (!m || m[1] === undefined) continue;
    while (stack.length > 0 && (stack[stack.length - 1] as Frame).indent >= col) stack.pop();
    stack.push({ indent: col, segment: stripQuotes(m[1]) });
    if (visit(i + 1)) return i + 1;
  }
  return best && best.depth > 0 ? best.line : undefined;
}
