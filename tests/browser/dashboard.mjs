// The dashboard in a real browser: headless Debian chromium driven by
// playwright-core. Run by crates/repobus-cli/tests/dashboard_browser.rs,
// which starts nats-server and `repobus serve` and passes, in the
// environment:
//   DASHBOARD_URL   the page (under the --base-path)
//   REPOBUS_BIN     the repobus binary; NATS_URL its server
//   FIXTURES        a directory with started.json and finished.json bodies
//   SHOTS           where to save screenshots
//   REPOBUS_NODE_MODULES, REPOBUS_CHROMIUM  from scripts/tools.d/browser.sh
// Prints one line per check; exits 1 on the first failed check.
import { createRequire } from "node:module";
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) { console.error(`missing ${name}: run via cargo test (and . scripts/tools.sh --oracle)`); process.exit(2); }
  return value;
};
const url = env("DASHBOARD_URL");
const bin = env("REPOBUS_BIN");
const nats = env("NATS_URL");
const fixtures = env("FIXTURES");
const shots = env("SHOTS");
const require = createRequire(join(env("REPOBUS_NODE_MODULES"), "noop.js"));
const { chromium } = require("playwright-core");

function check(ok, what) {
  if (!ok) { console.error("FAIL: " + what); throw new Error(what); }
  console.log("ok: " + what);
}

function publish(type, file) {
  execFileSync(bin, ["publish", "--nats-url", nats, type, join(fixtures, file)], { stdio: ["ignore", "pipe", "inherit"] });
}

const browser = await chromium.launch({
  executablePath: process.env.REPOBUS_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  // launch() gives the browser a fresh temporary profile (user-data-dir)
  // of its own, removed on close.
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: "light" });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));

  // The service runs with --read-token: the page asks for it first.
  const token = env("READ_TOKEN");
  const login = async (p) => {
    await p.waitForSelector("#auth:not([hidden])", { timeout: 10000 });
    await p.fill("#auth-token", token);
    await p.keyboard.press("Enter");
  };
  await page.goto(url);
  await login(page);
  await page.waitForSelector("#conn.live", { timeout: 10000 });
  // The browser logs the refused requests made before the token was given.
  const refused = errors.splice(0);
  check(refused.every((e) => e.includes("401")), `the page asked for the read token, then the live feed connected (${refused.length} refused requests before it)`);

  // 1. An event published with `repobus publish` appears within 2 s.
  const t0 = Date.now();
  publish("repo-sync-started", "started.json");
  const published = Date.now();
  await page.waitForSelector('#live-table tbody tr:has-text("epel-9-everything")', { timeout: 2000 });
  const shown = Date.now();
  check(true, `a published event appeared in the live feed ${shown - published} ms after repobus publish returned (${shown - t0} ms after it started)`);
  publish("repo-sync-finished", "finished.json");
  await page.waitForSelector('#live-table tbody tr:has-text("pulp-f17")', { timeout: 2000 });
  check(await page.locator("#live-table tbody tr").count() >= 2, "rows accumulate without reload");
  await page.screenshot({ path: join(shots, "live.png") });

  // 2. Repositories: the new result and the sync in progress.
  await page.click('a[data-view="repos"]');
  const f17 = page.locator('#repos-table tr[data-repo="pulp-f17"]');
  await f17.waitFor({ timeout: 5000 });
  check((await f17.innerText()).includes("success"), "the repositories view shows pulp-f17's new result (success)");
  const running = page.locator('#repos-table tr[data-repo="epel-9-everything"]');
  const runningText = await running.innerText();
  check(runningText.includes("running") && runningText.includes("so far"), "a started, unfinished sync shows as in progress: " + runningText.replace(/\s+/g, " "));
  await page.screenshot({ path: join(shots, "repos.png") });
  await page.screenshot({ path: join(shots, "dashboard.png") });

  // 3. Builds and trends render.
  await page.click('a[data-view="builds"]');
  await page.waitForSelector(".project .matrix", { timeout: 5000 });
  check(await page.locator(".matrix .cell").count() > 0, "the builds view shows a chroot-by-build matrix");
  await page.screenshot({ path: join(shots, "builds.png"), fullPage: true });
  await page.click('a[data-view="trends"]');
  await page.waitForSelector("#chart-events svg rect", { state: "attached", timeout: 5000 });
  const bars = await page.evaluate(() =>
    [...document.querySelectorAll("#chart-events rect.bar-ev")].filter((r) => Number(r.getAttribute("height")) > 0).length);
  check(bars > 0, `the trends view draws its charts (${bars} non-empty hourly bars)`);
  await page.screenshot({ path: join(shots, "trends.png") });

  // 4. Search: the expected rows.
  await page.click('a[data-view="search"]');
  await page.fill('#search-form input[name="filters"]', '{"repo_id": "pulp-f17"}');
  await page.keyboard.press("Enter");
  await page.waitForSelector("#search-table tbody tr", { timeout: 5000 });
  const rows = await page.locator("#search-table tbody tr").allInnerTexts();
  check(rows.length === 2 && rows.every((r) => r.includes("pulp-f17")), `a search for pulp-f17 returns its 2 events (${rows.length})`);

  // 5. Detail: the wire body, by keyboard.
  await page.locator("#search-table tbody tr").first().focus();
  await page.keyboard.press("Enter");
  await page.waitForSelector("#detail:not([hidden])", { timeout: 5000 });
  const body = await page.locator("#detail-body").innerText();
  check(body.includes('"repo_id": "pulp-f17"') && body.includes('"result": "success"'), "the detail view shows the wire body");
  check((await page.locator("#detail-headers").innerText()).includes("ce-type"), "the detail view shows the CloudEvents headers");
  await page.screenshot({ path: join(shots, "detail.png") });
  await page.keyboard.press("Escape");
  check(await page.locator("#detail").isHidden(), "Escape closes the detail");

  // 6. Load: thousands of events arrive while the feed is open; the page
  // keeps rendering frames and a bounded number of rows.
  await page.click('a[data-view="live"]');
  await page.evaluate(() => {
    window.__gaps = [];
    let last = performance.now();
    const tick = (t) => { window.__gaps.push(t - last); last = t; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const before = await page.evaluate(() => state.received + state.queue.length);
  const loadStart = Date.now();
  // Three publishers at once, 1000 events each.
  await Promise.all([0, 1, 2].map((i) => new Promise((resolve, reject) => {
    const child = spawn(bin, ["publish", "--nats-url", nats, "--jsonl", join(fixtures, `load-${i}.jsonl`)], { stdio: ["ignore", "ignore", "inherit"] });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error("publish --jsonl exited " + code))));
  })));
  const loadPublished = Date.now();
  await page.waitForFunction((n) => state.received >= n, before + 3000, { timeout: 15000 });
  const loadShown = Date.now();
  const probe = Date.now();
  await page.evaluate(() => document.querySelectorAll("#live-table tbody tr").length);
  const probeMs = Date.now() - probe;
  const frames = await page.evaluate(() => window.__gaps.slice(1));
  const maxGap = Math.round(Math.max(...frames));
  const liveRows = await page.locator("#live-table tbody tr").count();
  const rate = Math.round(3000 / ((loadPublished - loadStart) / 1000));
  check(liveRows <= 500, `the feed keeps a bounded number of rows under load (${liveRows} rows after 3000 events)`);
  check(maxGap < 1000, `the page stays responsive under load: 3000 events published at ${rate}/s, all shown ${loadShown - loadPublished} ms after the publish returned, longest frame gap ${maxGap} ms over ${frames.length} frames, a DOM probe answered in ${probeMs} ms`);

  // 7. Dark mode and a phone.
  const phone = await browser.newContext({ viewport: { width: 390, height: 800 }, colorScheme: "dark" });
  const mobile = await phone.newPage();
  mobile.on("pageerror", (e) => errors.push(String(e)));
  await mobile.goto(url + "#repos");
  await login(mobile);
  await mobile.waitForSelector("#conn.live", { timeout: 10000 });
  errors.splice(0);
  await mobile.waitForSelector('#repos-table tr[data-repo="pulp-f17"]', { timeout: 5000 });
  const bg = await mobile.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== "rgb(246, 247, 249)", "dark mode follows the browser (" + bg + ")");
  await mobile.screenshot({ path: join(shots, "phone-dark.png") });

  check(errors.length === 0, "no console errors" + (errors.length ? ": " + errors.join(" | ") : ""));
} catch (e) {
  failed = true;
  console.error(e && e.stack ? e.stack : String(e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
