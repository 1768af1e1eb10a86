/** drgn frames (non-inline) as `symbol` names, matched in order against ours. */
export function matchRate(
  reference: { symbol?: string; inline?: boolean; pc: string }[],
  ours: { name: string; pc: bigint }[],
): { matched: number; total: number } {
  const wanted = reference.filter((f) => !f.inline);
  let j = 0;
  let matched = 0;
  for (const f of wanted) {
    const target = f.symbol ?? `0x${BigInt(f.pc).toString(16)}`;
    const k = ours.findIndex((o, i) => i >= j && (o.name.split('+')[0] === target || o.pc === BigInt(f.pc)));
    if (k >= 0) {
      matched++;
      j = k + 1;
    }
  }
  return { matched, total: wanted.length };
}
