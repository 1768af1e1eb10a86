import { ensureDecompressed } from './corpus';

export default async function setup(): Promise<void> {
  await ensureDecompressed((s) => console.log(s));
}
