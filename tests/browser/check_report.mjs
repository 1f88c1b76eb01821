// Opens a descent report in headless Chromium and checks what a reader would see: the page loads
// with no console errors and no failed requests, the summary table has rows, and every plot is
// drawn at a readable size, with its data inside its plot area and its legend outside it. Takes a
// full-page screenshot.
//
// usage: node check_report.mjs REPORT.html SCREENSHOT.png [--plots-only]
// --plots-only checks a page of plots alone (no summary table or verdict).
// Prints one JSON line with what it found; exits 1 when a check fails.
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [report, screenshot, mode] = process.argv.slice(2);
const plotsOnly = mode === "--plots-only";
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
  if (!plotsOnly) {
    if (rows < 1) problems.push("the summary table has no rows");
    if (!(await page.locator("#summary").isVisible())) problems.push("the summary table is not visible");
    const verdict = (await page.locator("#verdict").innerText()).trim();
    if (verdict.length < 20) problems.push("the verdict is missing");
  }

  const figures = page.locator("figure");
  const plots = [];
  for (let index = 0; index < (await figures.count()); index++) {
    const figure = figures.nth(index);
    const id = await figure.getAttribute("id");
    const box = await figure.locator("svg").first().boundingBox();
    const drawn = await figure.locator("svg polyline, svg path").count();
    plots.push({ id, width: box?.width ?? 0, height: box?.height ?? 0, paths: drawn });
    if (!box || box.width < 300 || box.height < 150) problems.push(`${id}: not drawn at a readable size`);
    if (drawn < 1) problems.push(`${id}: has no curves`);
  }
  if (plots.length === 0) problems.push("the page has no plots");

  // Each drawn panel (an SVG with a <g class="axes" data-frame="x0 y0 x1 y1">): every point
  // of every series (lines, bands, contours: <g class="data">) and every marker's centre lies
  // inside the plot area, and the legend lies wholly outside it and inside the picture.
  const panels = await page.evaluate(() => {
    const found = [];
    const numbers = (text) => (text ?? "").trim().split(/[\s,]+/).filter((t) => t !== "").map(Number);
    for (const axes of document.querySelectorAll("g.axes[data-frame]")) {
      const svg = axes.parentElement;
      const [x0, y0, x1, y1] = numbers(axes.getAttribute("data-frame"));
      const inside = (x, y) => x >= x0 - 1 && x <= x1 + 1 && y >= y0 - 1 && y <= y1 + 1;
      const outside = [];
      let points = 0;
      for (const shape of svg.querySelectorAll(":scope > g.data > *")) {
        const xy = shape.tagName === "line"
          ? ["x1", "y1", "x2", "y2"].map((name) => Number(shape.getAttribute(name)))
          : shape.tagName === "rect"
            ? ["x", "y"].map((name) => Number(shape.getAttribute(name)))
            : numbers(shape.getAttribute("points"));
        for (let i = 0; i + 1 < xy.length; i += 2) {
          points += 1;
          if (!inside(xy[i], xy[i + 1])) outside.push(`${shape.tagName} at ${xy[i]},${xy[i + 1]}`);
        }
      }
      for (const marker of svg.querySelectorAll(":scope > g.markers > *")) {
        const box = marker.getBBox();
        points += 1;
        const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
        if (!inside(cx, cy)) outside.push(`${marker.tagName} marker at ${cx},${cy}`);
      }
      const legend = svg.querySelector(":scope > g.legend");
      let legendProblem = null;
      if (legend && legend.childElementCount > 0) {
        const box = legend.getBBox();
        const overlaps = box.x < x1 && box.x + box.width > x0 && box.y < y1 && box.y + box.height > y0;
        const width = Number(svg.getAttribute("width"));
        if (overlaps) legendProblem = "the legend overlaps the plot area";
        else if (box.x + box.width > width + 1) legendProblem = "the legend runs past the picture's edge";
      }
      const title = svg.querySelector(":scope > g.axes > text")?.textContent?.trim() ?? "";
      found.push({ title, points, outside: outside.slice(0, 3), outsideCount: outside.length, legendProblem });
    }
    return found;
  });
  for (const panel of panels) {
    if (panel.points === 0) problems.push(`panel "${panel.title}": no data drawn`);
    if (panel.outsideCount > 0) {
      problems.push(`panel "${panel.title}": ${panel.outsideCount} points outside the plot area (${panel.outside.join("; ")})`);
    }
    if (panel.legendProblem) problems.push(`panel "${panel.title}": ${panel.legendProblem}`);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ rows, plots, panels: panels.length, problems }));
} finally {
  await browser.close();
}
process.exit(problems.length === 0 ? 0 : 1);
