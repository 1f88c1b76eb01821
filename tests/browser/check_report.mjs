// Opens a descent report in headless Chromium and checks what a reader would see: the page loads
// with no console errors and no failed requests, the summary table has rows, and every plot is
// drawn at a readable size. Takes a full-page screenshot.
//
// usage: node check_report.mjs REPORT.html SCREENSHOT.png
// Prints one JSON line with what it found; exits 1 when a check fails.
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [report, screenshot] = process.argv.slice(2);
if (!report || !screenshot) {
  console.error("usage: node check_report.mjs REPORT.html SCREENSHOT.png");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  await page.goto(pathToFileURL(report).href, { waitUntil: "load" });

  const rows = await page.locator("#summary tbody tr").count();
  if (rows < 1) problems.push("the summary table has no rows");
  if (!(await page.locator("#summary").isVisible())) problems.push("the summary table is not visible");
  const verdict = (await page.locator("#verdict").innerText()).trim();
  if (verdict.length < 20) problems.push("the verdict is missing");

  const figures = page.locator("figure");
  const plots = [];
  for (let index = 0; index < (await figures.count()); index++) {
    const figure = figures.nth(index);
    const id = await figure.getAttribute("id");
    const box = await figure.locator("svg").boundingBox();
    const drawn = await figure.locator("svg path").count();
    plots.push({ id, width: box?.width ?? 0, height: box?.height ?? 0, paths: drawn });
    if (!box || box.width < 300 || box.height < 150) problems.push(`${id}: not drawn at a readable size`);
    if (drawn < 1) problems.push(`${id}: has no curves`);
  }
  if (plots.length === 0) problems.push("the page has no plots");
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ rows, plots, problems }));
} finally {
  await browser.close();
}
process.exit(problems.length === 0 ? 0 : 1);
