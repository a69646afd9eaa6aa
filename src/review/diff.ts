/** One row of a side-by-side diff: left (before) and right (after) line numbers and text. */
export interface DiffRow {
  kind: 'same' | 'del' | 'add' | 'change';
  left: { n: number; text: string } | null;
  right: { n: number; text: string } | null;
}

/** Above this many lines per side the diff shows the files as replaced instead of aligning them. */
const MAX_LINES = 3000;

/**
 * Aligns two texts line by line (longest common subsequence) into side-by-side rows; a deletion next
 * to an insertion is shown as one changed row. Quadratic in lines, bounded by {@link MAX_LINES}.
 */
export function sideBySide(before: string | null, after: string | null): DiffRow[] {
  const a = before === null ? [] : before.split('\n');
  const b = after === null ? [] : after.split('\n');
  const ops: Array<['same' | 'del' | 'add', number, number]> = [];
  if (a.length > MAX_LINES || b.length > MAX_LINES) {
    a.forEach((_, i) => ops.push(['del', i, -1]));
    b.forEach((_, j) => ops.push(['add', -1, j]));
  } else {
    const w = b.length + 1;
    const lcs = new Uint32Array((a.length + 1) * w);
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) {
        lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (i < a.length && j < b.length && a[i] === b[j]) ops.push(['same', i++, j++]);
      else if (j < b.length && (i >= a.length || lcs[i * w + j + 1]! >= lcs[(i + 1) * w + j]!)) ops.push(['add', -1, j++]);
      else ops.push(['del', i++, -1]);
    }
  }
  const rows: DiffRow[] = [];
  let k = 0;
  while (k < ops.length) {
    const op = ops[k]!;
    if (op[0] === 'same') {
      rows.push({ kind: 'same', left: { n: op[1] + 1, text: a[op[1]]! }, right: { n: op[2] + 1, text: b[op[2]]! } });
      k++;
      continue;
    }
    // a run of deletions and insertions: pair them up as changed rows
    const dels: number[] = [];
    const adds: number[] = [];
    while (k < ops.length && ops[k]![0] !== 'same') {
      const o = ops[k++]!;
      if (o[0] === 'del') dels.push(o[1]);
      else adds.push(o[2]);
    }
    for (let r = 0; r < Math.max(dels.length, adds.length); r++) {
      const d = dels[r];
      const ad = adds[r];
      rows.push({
        kind: d !== undefined && ad !== undefined ? 'change' : d !== undefined ? 'del' : 'add',
        left: d === undefined ? null : { n: d + 1, text: a[d]! },
        right: ad === undefined ? null : { n: ad + 1, text: b[ad]! },
      });
    }
  }
  return rows;
}
