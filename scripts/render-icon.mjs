// Renders media/icon.svg to media/icon.png (128×128, transparent corners) with the chromium that
// scripts/setup-e2e.sh installs; vsce refuses SVG extension icons. Run after editing icon.svg:
//   node scripts/render-icon.mjs [--sheet out.png]   (--sheet: also a contact sheet of every icon, to look at)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const root = new URL('..', import.meta.url).pathname;
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 128, height: 128 } });
const svg = readFileSync(join(root, 'media/icon.svg'), 'utf8');
await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
await page.locator('svg').screenshot({ path: join(root, 'media/icon.png'), omitBackground: true });
console.log('wrote media/icon.png');

const sheetAt = process.argv.indexOf('--sheet');
if (sheetAt > 0) {
  const cell = (file, bg) =>
    `<div style="background:${bg};padding:8px;display:inline-block;text-align:center;font:10px sans-serif;color:#888">` +
    `<img src="data:image/svg+xml;base64,${Buffer.from(readFileSync(file)).toString('base64')}" width="48" height="48"><br>${file.split('/media/')[1]}</div>`;
  const files = (dir) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith('.svg'))
      .map((f) => join(root, dir, f));
  const html = [
    ...files('media/light').map((f) => cell(f, '#ffffff')),
    ...files('media/dark').map((f) => cell(f, '#1e1e1e')),
    cell(join(root, 'media/kdump.svg'), '#333333'),
    cell(join(root, 'media/icon.svg'), '#ffffff'),
  ].join('');
  await page.setViewportSize({ width: 900, height: 400 });
  await page.setContent(`<html><body style="margin:0">${html}</body></html>`);
  await page.screenshot({ path: process.argv[sheetAt + 1], fullPage: true });
}
await browser.close();
