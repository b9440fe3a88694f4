// The web console in a real browser: Debian's Chromium (scripts/browser.sh installs it) driven
// by playwright-core against the local gateway, which serves console/dist (built by
// `npm run build`) at / in front of an in-process mesh with the processor (files go
// PROCESSING → READY, images get thumbnails). Two people's path through it: register, a wrong
// password's error, sign in; three files dropped (one image) reach READY with a thumbnail;
// download, rename, move, details with previews; an older version restored; a 10 MiB upload in
// parts and one over the quota; trash, restore and delete forever; groups with a nested group;
// a folder shared with the second user, who finds it under "Shared with me" and downloads from
// it; a password link opened in a fresh browser context; an upload cut off by closing the page
// and resumed after sign-in; "sign out other sessions" ending another context's session;
// every view at 390 px without horizontal overflow; the file list by keyboard only; paging and
// sort of a 55-item folder; the early refresh of short-lived access tokens. No console errors
// anywhere. Screenshots of each screen go to .tmp/console/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateDatabase } from "@filemesh/kit/testing";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rest, startTarget, type Target } from "../conformance/target.js";

const root = join(import.meta.dirname, "..", "..");
const consoleDir = join(root, "console", "dist");
const shots = join(root, ".tmp", "console");
const chromiumPath = "/usr/bin/chromium";
const MiB = 1024 * 1024;

let t: Target;
let db: Awaited<ReturnType<typeof privateDatabase>> | undefined;
let browser: Browser;
let ctxA: BrowserContext;
let page: Page; // user A's page
const problems: string[] = [];
/** The last refused answers the pages got, printed when a test fails (what the console saw). */
const answers: string[] = [];
let refreshes = 0;
const run = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const A = { email: `console-a-${run}@example.com`, password: "a console passphrase", name: "Ada Console" };
const B = { email: `console-b-${run}@example.com`, password: "b console passphrase", name: "Bo Second" };

/**
 * Watches a page: uncaught errors and console errors become test failures, except a failed
 * request whose URL one of `expected` matches (Chromium logs every non-2xx fetch as an error).
 */
function watch(p: Page, label: string, expected: RegExp[] = []): Page {
  p.setDefaultTimeout(15_000);
  p.on("response", (r) => {
    if (r.status() < 400) return;
    const u = new URL(r.url());
    answers.push(
      `${new Date().toISOString().slice(11, 23)} ${label} ${r.status()} ${r.request().method()} ${u.pathname}`,
    );
    if (answers.length > 40) answers.shift();
  });
  p.on("pageerror", (e) => problems.push(`${label} pageerror: ${e.message}`));
  p.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location().url;
    if (m.text().startsWith("Failed to load resource") && expected.some((re) => re.test(url))) return;
    problems.push(`${label} console.error: ${m.text()} (${url})`);
  });
  return p;
}

/** expect.poll with room for a shared 2-core machine (its default gives up after 1 s). */
const until = <T>(fn: () => T | Promise<T>, opts: { timeout?: number } = {}) =>
  expect.poll(fn, { timeout: 15_000, interval: 100, ...opts });
const shot = (p: Page, name: string, fullPage = false) =>
  p.screenshot({ path: join(shots, `${name}.png`), fullPage });
const rowOf = (p: Page, name: string) => p.locator(`tbody tr[data-name="${name}"]`);
const row = (name: string) => rowOf(page, name);
const stateOf = (p: Page, name: string) => rowOf(p, name).locator(".state").textContent();
const view = (p: Page, name: string) =>
  p.getByRole("navigation", { name: "Views" }).getByRole("button", { name, exact: true }).click();

async function signIn(p: Page, who: { email: string; password: string }) {
  await p.locator('input[name="email"]').fill(who.email);
  await p.locator('input[name="password"]').fill(who.password);
  await p.getByRole("button", { name: "Sign in", exact: true }).click();
  await p.getByRole("navigation", { name: "Breadcrumbs" }).waitFor();
}

async function register(p: Page, who: typeof A) {
  await p.getByRole("button", { name: "No account? Register" }).click();
  await p.locator('input[name="email"]').fill(who.email);
  await p.locator('input[name="displayName"]').fill(who.name);
  await p.locator('input[name="password"]').fill(who.password);
  await p.getByRole("button", { name: "Register", exact: true }).click();
  await p.locator(".who").waitFor();
}

/** Drops files (name, type, base64 content) on the folder browser as a DataTransfer. */
async function drop(p: Page, files: { name: string; type: string; data: Buffer }[]) {
  const dt = await p.evaluateHandle(
    (list) => {
      // Runs in the page (the test's TypeScript has no DOM types).
      const g = globalThis as any;
      const d = new g.DataTransfer();
      for (const f of list) {
        const bin = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
        d.items.add(new g.File([bin], f.name, { type: f.type }));
      }
      return d;
    },
    files.map((f) => ({ name: f.name, type: f.type, b64: f.data.toString("base64") })),
  );
  await p.locator("section.browser").dispatchEvent("drop", { dataTransfer: dt });
}

async function noOverflow(p: Page) {
  return p.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
}

async function downloadText(p: Page, click: () => Promise<void>) {
  const [d] = await Promise.all([p.waitForEvent("download"), click()]);
  return { name: d.suggestedFilename(), text: readFileSync(await d.path()).toString() };
}

beforeAll(async () => {
  if (!existsSync(join(consoleDir, "index.html")))
    throw new Error("console/dist is missing: run npm run build");
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/browser.sh`);
  // A database of its own, hence NATS streams and consumers of its own (kit run prefix): on the
  // shared test database, another suite's processor could take this mesh's upload events.
  db = await privateDatabase();
  t = await startTarget({
    services: ["auth", "user", "permission", "file", "processor"],
    // A Redis database of its own: the browser reaches the gateway from 127.0.0.1 like every
    // other suite's client, and failed logins (with the delays they set) are counted per address.
    env: { DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:6379/${1 + Math.floor(Math.random() * 15)}` },
    // Access tokens that live 6 s: the console refreshes them ahead of expiry (counted below).
    // A quota of 10 MiB + 150 KiB: the 10 MiB upload fits, a 200 KiB one after it does not.
    // Files wait in PROCESSING until the processor marks them READY (and makes thumbnails).
    serviceEnv: {
      auth: { ACCESS_TOKEN_TTL: "6s" },
      file: { DEFAULT_QUOTA_BYTES: String(10 * MiB + 150 * 1024), FILES_READY_ON_COMMIT: "false" },
    },
    gatewayEnv: { CONSOLE_DIR: consoleDir },
  });
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  await ctxA.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.base });
  // Expected refusals on A's page: the wrong password, the upload over the quota.
  page = watch(await ctxA.newPage(), "A", [
    /\/v1\/auth:login$/,
    /\/v1\/files:upload\?.*name=over-quota\.bin/,
  ]);
  page.on("response", (r) => {
    if (r.url().endsWith("/v1/auth:refresh")) {
      refreshes++;
      if (r.status() !== 200) problems.push(`refresh answered ${r.status()}`);
    }
  });
}, 60_000);

// A failed test says what the console was showing and the refusals it got before (a timeout
// alone does not tell a slow machine from a refused call).
afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail" || !page) return;
  const alerts = await page
    .getByRole("alert")
    .allTextContents()
    .catch(() => []);
  console.log(`alerts on A's page: ${JSON.stringify(alerts)}\nrefused answers:\n${answers.join("\n")}`);
  await shot(page, `failed-${ctx.task.name.slice(0, 40).replaceAll(/\W+/g, "-")}`).catch(() => {});
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await db?.drop();
});

describe("web console in Chromium", () => {
  it("is served at / with a same-origin CSP, and the API paths stay the API's", async () => {
    const res = await page.goto(`${t.base}/`);
    expect(res?.status()).toBe(200);
    const csp = res?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await until(() => page.title()).toBe("filemesh");

    // A client-side route falls back to the app; an API path never does.
    const deep = await page.request.get(`${t.base}/folders/somewhere`);
    expect(deep.headers()["content-type"]).toContain("text/html");
    const api = await page.request.get(`${t.base}/v1/nowhere`);
    expect(api.status()).toBe(404);
    expect(api.headers()["content-type"]).toContain("application/json");
    const health = await page.request.get(`${t.base}/healthz`);
    expect(health.headers()["content-type"]).toContain("application/json");
  });

  it("registers, shows a wrong password's error, signs in", async () => {
    await page.goto(`${t.base}/`);
    // Keyboard: the first Tab lands in the form.
    await page.keyboard.press("Tab");
    expect(await page.evaluate('document.activeElement?.getAttribute("name")')).toBe("email");
    await register(page, A);
    expect(await page.getByRole("alert").count(), (await page.locator("body").textContent()) ?? "").toBe(0);
    expect(await page.locator(".who").textContent()).toBe(A.name);
    await page.getByRole("button", { name: "Sign out", exact: true }).click();

    await page.locator('input[name="email"]').fill(A.email);
    await page.locator('input[name="password"]').fill("not the passphrase");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    // The API's own message and ErrorInfo reason, not a generic text.
    expect(await alert.textContent()).toMatch(/[A-Z_]{6,}/);
    await shot(page, "login-error-1280");
    await signIn(page, A);
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.locator(".usage-text").waitFor();
  });

  it("three dropped files (one image) go PROCESSING → READY, the image with a thumbnail; download, rename, move, details", async () => {
    await page.getByLabel("New folder name").fill("Reports");
    await page.getByRole("button", { name: "Create folder" }).click();
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await until(() => page.getByRole("navigation", { name: "Breadcrumbs" }).textContent()).toMatch(
      /Home\s*\/\s*Reports/,
    );
    await page.getByLabel("New folder name").fill("Archive");
    await page.getByRole("button", { name: "Create folder" }).click();
    await row("Archive").waitFor();

    const png = await sharp({
      create: { width: 96, height: 64, channels: 3, background: { r: 200, g: 60, b: 40 } },
    })
      .png()
      .toBuffer();
    const thumbnailResponse = page.waitForResponse((r) => /\/v1\/files\/[^/]+\/thumbnail$/.test(r.url()), {
      timeout: 60_000,
    });
    const hello = `hello from the console ${A.email}\n`;
    await drop(page, [
      { name: "hello.txt", type: "text/plain", data: Buffer.from(hello) },
      { name: "notes.md", type: "text/markdown", data: Buffer.from("# notes\n\nsome text\n") },
      { name: "photo.png", type: "image/png", data: png },
    ]);
    await until(() => page.locator(".upload-done").count()).toBe(3);
    expect(await page.locator(".uploads-total").textContent()).toMatch(/3 uploaded/);
    for (const name of ["hello.txt", "notes.md", "photo.png"]) {
      await until(() => stateOf(page, name), { timeout: 45_000 }).toBe("READY");
    }
    // The processor made a thumbnail of the image: the row shows a picture (a blob: image).
    const thumb = row("photo.png").locator("img.thumb");
    await thumb.waitFor();
    expect(await thumb.getAttribute("src")).toMatch(/^blob:/);
    expect(await thumb.evaluate((img) => (img as any).naturalWidth)).toBe(96);
    // Drawn from the thumbnail route (the processor's WebP), not from the PNG content.
    const thumbRes = await thumbnailResponse;
    expect([thumbRes.status(), thumbRes.headers()["content-type"]]).toEqual([200, "image/webp"]);
    expect(Number(thumbRes.headers()["content-length"])).toBeGreaterThan(0);
    expect(await row("hello.txt").locator("img.thumb").count()).toBe(0);
    await shot(page, "browser-1280");

    // Download: the same bytes.
    const got = await downloadText(page, () =>
      row("hello.txt").getByRole("button", { name: "Download hello.txt" }).click(),
    );
    expect(got).toEqual({ name: "hello.txt", text: hello });

    // Rename (Escape cancels; Enter saves).
    await row("hello.txt").getByRole("button", { name: "Rename hello.txt" }).click();
    await page.keyboard.press("Escape");
    expect(await page.getByLabel("New name for hello.txt").count()).toBe(0);
    await row("hello.txt").getByRole("button", { name: "Rename hello.txt" }).click();
    await page.getByLabel("New name for hello.txt").fill("renamed.txt");
    await page.keyboard.press("Enter");
    await row("renamed.txt").waitFor();
    expect(await row("hello.txt").count()).toBe(0);

    // Move into Archive through the folder picker.
    await row("renamed.txt").getByRole("button", { name: "Move renamed.txt", exact: true }).click();
    const picker = page.getByRole("dialog", { name: "Move “renamed.txt” to…" });
    await picker.getByRole("button", { name: "Open Archive", exact: true }).click();
    await shot(page, "move-dialog-1280");
    await picker.getByRole("button", { name: "Choose “Archive”" }).click();
    await until(() => row("renamed.txt").count()).toBe(0);
    await row("Archive").getByRole("button", { name: "Open folder Archive" }).click();
    await row("renamed.txt").waitFor();
    await page
      .getByRole("navigation", { name: "Breadcrumbs" })
      .getByRole("button", { name: "Reports" })
      .click();

    // Details: the image's preview, a text file's content.
    await row("photo.png").getByRole("button", { name: "Show details of photo.png" }).click();
    const details = page.getByRole("complementary", { name: "Details of photo.png" });
    await details.getByRole("img", { name: "Preview of photo.png" }).waitFor();
    await shot(page, "details-image-1280");
    await row("notes.md").getByRole("button", { name: "Show details of notes.md" }).click();
    await until(() => page.locator(".text-preview").textContent()).toContain("some text");
    await page.getByRole("button", { name: "Close details" }).click();
    expect(problems).toEqual([]);
  });

  it("restores an older version: its content comes back as the newest version", async () => {
    const v1 = "version one\n";
    const v2 = "version two, longer\n";
    const input = page.locator('input[name="files"]');
    await input.setInputFiles({ name: "draft.txt", mimeType: "text/plain", buffer: Buffer.from(v1) });
    await until(() => stateOf(page, "draft.txt"), { timeout: 45_000 }).toBe("READY");
    await input.setInputFiles({ name: "draft.txt", mimeType: "text/plain", buffer: Buffer.from(v2) });
    await until(() => row("draft.txt").locator("td.num").textContent(), { timeout: 45_000 }).toBe(
      `${v2.length} B`,
    );
    await until(() => stateOf(page, "draft.txt"), { timeout: 45_000 }).toBe("READY");

    await row("draft.txt").getByRole("button", { name: "Show details of draft.txt" }).click();
    const versions = page.getByRole("region", { name: "Versions" });
    await until(() => versions.locator("li").count()).toBe(2);
    await until(() => page.locator(".text-preview").textContent()).toBe(v2);
    await versions.getByRole("button", { name: "Restore version 1" }).click();
    await until(() => versions.locator("li").count(), { timeout: 45_000 }).toBe(3);
    await until(() => stateOf(page, "draft.txt"), { timeout: 45_000 }).toBe("READY");
    await until(() => page.locator(".text-preview").textContent(), { timeout: 45_000 }).toBe(v1);
    await shot(page, "versions-1280");
    const got = await downloadText(page, () =>
      row("draft.txt").getByRole("button", { name: "Download draft.txt" }).click(),
    );
    expect(got.text).toBe(v1);
    await page.getByRole("button", { name: "Close details" }).click();
    expect(problems).toEqual([]);
  });

  it("a 10 MiB upload goes in parts; one over the quota shows the API's reason plainly", async () => {
    const parts: string[] = [];
    const onReq = (r: { method(): string; url(): string }) => {
      if (r.method() === "PUT" && /\/v1\/uploads\/[^/]+\/parts\/\d+$/.test(r.url())) parts.push(r.url());
    };
    page.on("request", onReq);
    await page.locator('input[name="files"]').setInputFiles({
      name: "big.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(10 * MiB + 123, 7),
    });
    await row("big.bin").waitFor({ timeout: 30_000 });
    await until(() => stateOf(page, "big.bin"), { timeout: 45_000 }).toBe("READY");
    expect(await row("big.bin").locator("td.num").textContent()).toBe("10 MiB");
    expect(parts.length).toBe(2); // 8 MiB parts
    page.off("request", onReq);

    await page.locator('input[name="files"]').setInputFiles({
      name: "over-quota.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(200 * 1024, 1),
    });
    const failed = page.locator(".upload-failed", { hasText: "over-quota.bin" });
    await failed.waitFor();
    const status = await failed.locator(".upload-status").textContent();
    expect(status).toContain("Not enough storage left");
    expect(status).toContain("QUOTA_EXCEEDED");
    expect(await failed.getByRole("button", { name: "Retry over-quota.bin" }).count()).toBe(1);
    expect(await row("over-quota.bin").count()).toBe(0);
    expect(await page.locator(".usage-text").textContent()).toMatch(/of 10 MiB/);
    await shot(page, "upload-error-1280");
    await failed.getByRole("button", { name: "Cancel upload of over-quota.bin" }).click();
    await page.getByRole("button", { name: "Clear finished" }).click();
    expect(await page.locator(".upload").count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it("folder trees by the picker and by drop; a rejected image with its reason; copy", async () => {
    const dir = mkdtempSync(join(tmpdir(), "filemesh-console-"));
    mkdirSync(join(dir, "proj", "sub"), { recursive: true });
    writeFileSync(join(dir, "proj", "a.txt"), "file a\n");
    writeFileSync(join(dir, "proj", "sub", "b.txt"), "file b\n");
    await page.locator('input[name="folder"]').setInputFiles(join(dir, "proj"));
    await row("proj").getByRole("button", { name: "Open folder proj" }).click();
    await row("a.txt").waitFor();
    await row("sub").getByRole("button", { name: "Open folder sub" }).click();
    await row("b.txt").waitFor();
    await until(() => stateOf(page, "b.txt"), { timeout: 45_000 }).toBe("READY");
    await page
      .getByRole("navigation", { name: "Breadcrumbs" })
      .getByRole("button", { name: "Reports" })
      .click();
    await row("proj").getByRole("button", { name: "Move proj to trash" }).click();
    await until(() => row("proj").count()).toBe(0);
    rmSync(dir, { recursive: true, force: true });

    // A folder dropped: its entries walked (webkitGetAsEntry), the tree created below Reports.
    // Chromium gives script-made DataTransfers no entries, so the drop carries stand-ins.
    await page.evaluate(`(() => {
      const file = (name, text) => ({ isFile: true, isDirectory: false, name, file: (ok) => ok(new File([text], name)) });
      const dir = (name, children) => ({
        isFile: false, isDirectory: true, name,
        createReader: () => { let done = false; return { readEntries: (ok) => { ok(done ? [] : children); done = true; } }; },
      });
      const root = dir("dropped", [file("c.txt", "c"), dir("deep", [file("d.txt", "d")])]);
      const ev = new Event("drop", { bubbles: true, cancelable: true });
      Object.defineProperty(ev, "dataTransfer", { value: { items: [{ kind: "file", webkitGetAsEntry: () => root }], files: [] } });
      document.querySelector("section.browser").dispatchEvent(ev);
    })()`);
    await row("dropped").getByRole("button", { name: "Open folder dropped" }).click();
    await row("c.txt").waitFor();
    await row("deep").getByRole("button", { name: "Open folder deep" }).click();
    await row("d.txt").waitFor();
    await page
      .getByRole("navigation", { name: "Breadcrumbs" })
      .getByRole("button", { name: "Reports" })
      .click();
    await row("dropped").getByRole("button", { name: "Move dropped to trash" }).click();
    await until(() => row("dropped").count()).toBe(0);

    // An image the processor cannot decode: REJECTED, with its reason beside it.
    const badPng = Buffer.concat([
      Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
      Buffer.alloc(300, 9),
    ]);
    await drop(page, [{ name: "broken.png", type: "image/png", data: badPng }]);
    await until(() => stateOf(page, "broken.png"), { timeout: 45_000 }).toMatch(/^REJECTED: \S+/);
    await shot(page, "rejected-1280");

    // Copy through the details pane into Archive.
    await row("photo.png").getByRole("button", { name: "Show details of photo.png" }).click();
    await page.getByRole("button", { name: "Copy…" }).click();
    const picker = page.getByRole("dialog", { name: "Copy “photo.png” to…" });
    await picker.getByRole("button", { name: "Open Archive", exact: true }).click();
    await picker.getByRole("button", { name: "Choose “Archive”" }).click();
    await until(() => page.getByRole("dialog").count()).toBe(0);
    await row("Archive").getByRole("button", { name: "Open folder Archive" }).click();
    // The copy (object copied in the store, then committed) can take a while on a loaded machine.
    await row("photo.png").waitFor({ timeout: 45_000 });
    await page
      .getByRole("navigation", { name: "Breadcrumbs" })
      .getByRole("button", { name: "Reports" })
      .click();
    await row("broken.png").getByRole("button", { name: "Move broken.png to trash" }).click();
    await until(() => row("broken.png").count()).toBe(0);

    expect(problems).toEqual([]);
  });

  it("trash: restore, and delete forever", async () => {
    await row("notes.md").getByRole("button", { name: "Move notes.md to trash" }).click();
    await until(() => row("notes.md").count()).toBe(0);
    await row("big.bin").getByRole("button", { name: "Move big.bin to trash" }).click();
    await until(() => row("big.bin").count()).toBe(0);
    await view(page, "Trash");
    await row("notes.md").waitFor();
    await row("big.bin").waitFor();
    await shot(page, "trash-1280");
    await row("notes.md").getByRole("button", { name: "Restore notes.md" }).click();
    await until(() => row("notes.md").count()).toBe(0);
    await row("big.bin").getByRole("button", { name: "Delete big.bin forever" }).click();
    await row("big.bin").getByRole("button", { name: "Confirm deleting big.bin forever" }).click();
    await until(() => row("big.bin").count()).toBe(0);
    // Its 10 MiB are given back.
    await until(() => page.locator(".usage-text").textContent()).toMatch(/^\d+(\.\d)? (B|KiB) used/);
    await view(page, "Files");
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await row("notes.md").waitFor();
    expect(problems).toEqual([]);
  });

  let ctxB: BrowserContext;
  let pageB: Page;

  it("groups: a second user registers; a group with that user and a nested group", async () => {
    ctxB = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    pageB = watch(await ctxB.newPage(), "B");
    await pageB.goto(`${t.base}/`);
    await register(pageB, B);

    await view(page, "Groups");
    await page.getByLabel("New group name").fill("Leads");
    await page.getByRole("button", { name: "Create group" }).click();
    await page.getByRole("region", { name: "Members of Leads" }).waitFor();
    await page.getByLabel("New group name").fill("Team");
    await page.getByLabel("New group description").fill("everyone on the project");
    await page.getByRole("button", { name: "Create group" }).click();
    const team = page.getByRole("region", { name: "Members of Team" });
    await team.waitFor();
    await team.getByLabel("Member email").fill(B.email);
    await team.getByRole("button", { name: "Add member" }).click();
    await team.locator("li", { hasText: B.name }).waitFor();
    await team.getByRole("combobox").first().selectOption("group");
    await team.getByLabel("Nested group").selectOption({ label: "Leads" });
    await team.getByRole("button", { name: "Add member" }).click();
    await team.locator("li", { hasText: "group Leads" }).waitFor();
    // The creator (admin), B, and the nested group.
    expect(await team.locator(".cards li").count()).toBe(3);
    await shot(page, "groups-1280");

    // An unknown email: the API's error, shown.
    await team.getByRole("combobox").first().selectOption("user");
    await team.getByLabel("Member email").fill(`nobody-${run}@example.com`);
    await team.getByRole("button", { name: "Add member" }).click();
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toMatch(/NOT_FOUND|not found/i);
    await page.getByRole("button", { name: "Dismiss error" }).click();
    expect(problems.filter((p) => !p.includes("users:lookup"))).toEqual([]);
    problems.length = 0;
  });

  let linkAddress = "";

  it("share: a folder with the second user (who sees and downloads it), a password link", async () => {
    await view(page, "Files");
    await row("Reports").getByRole("button", { name: "Share Reports" }).click();
    const dialog = page.getByRole("dialog", { name: "Share “Reports”" });
    await dialog.getByLabel("Email of the person").fill(B.email);
    await dialog.getByRole("button", { name: "Share", exact: true }).click();
    await dialog.locator("li", { hasText: B.name }).waitFor();
    expect(await dialog.locator("li", { hasText: B.name }).locator(".badge").textContent()).toBe("viewer");
    await shot(page, "share-dialog-1280");
    await dialog.getByRole("button", { name: "Close" }).click();

    // A password link to notes.md; its address copied to the clipboard.
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await row("notes.md").getByRole("button", { name: "Share notes.md" }).click();
    const d2 = page.getByRole("dialog", { name: "Share “notes.md”" });
    await d2.getByLabel("Link password").fill("link secret 42");
    await d2.getByLabel("Download limit").fill("3");
    await d2.getByRole("button", { name: "Create link" }).click();
    linkAddress = await d2.getByLabel("New link address").inputValue();
    expect(linkAddress).toMatch(new RegExp(`^${t.base}/s/[^/#]+#password$`));
    await d2.getByRole("button", { name: "Copy link" }).click();
    await until(() => d2.getByRole("status").textContent()).toBe("Copied to the clipboard.");
    expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe(linkAddress);
    await d2.locator("li[data-link]").waitFor();
    expect(await d2.locator("li[data-link]").textContent()).toContain("0 of 3 downloads");
    await shot(page, "share-link-1280");
    await d2.getByRole("button", { name: "Close" }).click();

    // B: Shared with me → Reports → download notes.md.
    await view(pageB, "Shared with me");
    await rowOf(pageB, "Reports").waitFor();
    expect(await rowOf(pageB, "Reports").textContent()).toContain(A.name);
    await shot(pageB, "shared-with-me-1280");
    await rowOf(pageB, "Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await rowOf(pageB, "notes.md").waitFor();
    const got = await downloadText(pageB, () =>
      rowOf(pageB, "notes.md").getByRole("button", { name: "Download notes.md" }).click(),
    );
    expect(got).toEqual({ name: "notes.md", text: "# notes\n\nsome text\n" });
    expect(problems).toEqual([]);
  });

  it("a password link downloads in a fresh browser context (no account)", async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
    const p = watch(await ctx.newPage(), "link", [/\/v1\/links\/[^/]+$/]);
    await p.goto(linkAddress);
    await p.getByLabel("Password", { exact: true }).fill("wrong one");
    await p.getByRole("button", { name: "Open" }).click();
    await p.getByRole("alert").waitFor();
    expect(await p.getByRole("alert").textContent()).toContain("WRONG_PASSWORD");
    await p.getByLabel("Password", { exact: true }).fill("link secret 42");
    await p.getByRole("button", { name: "Open" }).click();
    await p.getByRole("heading", { name: "notes.md" }).waitFor();
    await shot(p, "link-page-390");
    const got = await downloadText(p, () => p.getByRole("button", { name: "Download" }).click());
    expect(got).toEqual({ name: "notes.md", text: "# notes\n\nsome text\n" });
    expect(await noOverflow(p)).toBeLessThanOrEqual(0);
    await ctx.close();
    expect(problems).toEqual([]);
  });

  it("an upload cut off by closing the page resumes after the next sign-in, sending only the missing part", async () => {
    // A file on disk: picked again after the reload, it has the same name, size and mtime.
    const data = Buffer.alloc(10 * MiB, 3); // parts of 8 MiB + 2 MiB
    const dir = mkdtempSync(join(tmpdir(), "filemesh-console-"));
    const path = join(dir, "resume.bin");
    writeFileSync(path, data);
    // Uploads throttled to 2 MiB/s: the page closes as soon as part 1 is stored, part 2 mid-way.
    const cdp = await ctxB.newCDPSession(pageB);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 2 * MiB,
    });
    let part1 = false;
    // Armed after the resume below: the page closes the moment part 1 is stored, so part 2 is
    // always mid-way (polling for part 1 on a loaded machine let part 2 finish first).
    let closeAfterPart1 = false;
    let closed: Promise<void> | undefined;
    const pageToClose = pageB;
    pageB.on("response", (r) => {
      if (/\/parts\/1$/.test(r.url()) && r.status() === 200) {
        part1 = true;
        if (closeAfterPart1 && !closed) closed = pageToClose.close();
      }
    });
    await view(pageB, "Files");
    await pageB.locator('input[name="files"]').setInputFiles(path);
    await pageB.locator(".upload-uploading", { hasText: "resume.bin" }).waitFor();
    await until(async () =>
      Number(await pageB.getByLabel("Progress of resume.bin").getAttribute("value")),
    ).toBeGreaterThan(0);
    await shot(pageB, "upload-in-flight-1280");
    // Pause aborts the part in flight; resume asks the session what it holds and goes on.
    await pageB.getByRole("button", { name: "Pause resume.bin" }).click();
    await pageB.locator(".upload-paused", { hasText: "resume.bin" }).waitFor();
    expect(part1).toBe(false);
    closeAfterPart1 = true;
    await pageB.getByRole("button", { name: "Resume resume.bin" }).click();
    await until(() => part1, { timeout: 30_000 }).toBe(true);
    await closed;

    // A new page of the same browser: signed out (tokens lived in the closed page's memory).
    const p = watch(await ctxB.newPage(), "B2");
    const sent: string[] = [];
    p.on("request", (r) => {
      if (r.method() === "PUT" && /\/parts\/\d+$/.test(r.url()))
        sent.push(r.url().replace(/.*\/parts\//, "part "));
    });
    await p.goto(`${t.base}/`);
    await signIn(p, B);
    const item = p.locator(".upload-interrupted", { hasText: "resume.bin" });
    await item.waitFor();
    expect(await item.locator(".upload-status").textContent()).toContain("interrupted");
    await shot(p, "upload-interrupted-1280");
    // The wrong file is refused, the right one resumes.
    await item
      .getByLabel("Pick the file to resume resume.bin")
      .setInputFiles({ name: "other.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(10) });
    await p.getByText("That is not the same file").waitFor();
    await item.getByLabel("Pick the file to resume resume.bin").setInputFiles(path);
    await shot(p, "upload-resumed-1280");
    await rowOf(p, "resume.bin")
      .waitFor({ timeout: 30_000 })
      .catch(async (e) => {
        throw new Error(`${e}: ${await p.locator(".uploads").textContent()} ${problems.join("; ")}`);
      });
    await until(() => stateOf(p, "resume.bin"), { timeout: 45_000 }).toBe("READY");
    expect(sent).toEqual(["part 2"]);
    expect(await rowOf(p, "resume.bin").locator("td.num").textContent()).toBe("10 MiB");
    pageB = p;
    rmSync(dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });

  it("sign out other sessions: the other context's next call fails and shows the sign-in form", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Once its session is revoked, this page's calls (and its refresh) are refused: expected.
    const other = watch(await ctx.newPage(), "other", [/\/v1\//]);
    await other.goto(`${t.base}/`);
    await signIn(other, A);

    await view(page, "Sessions");
    await until(() => page.locator("li.session").count()).toBe(2);
    expect(await page.locator('li.session[data-current="true"]').count()).toBe(1);
    await shot(page, "sessions-1280");
    await page.getByRole("button", { name: "Sign out other sessions" }).click();
    await until(() => page.getByRole("status").textContent()).toBe("Signed out 1 other session.");
    await until(() => page.locator("li.session").count()).toBe(1);

    let flip = "Groups";
    await until(
      async () => {
        if (await other.locator('input[name="email"]').count()) return "signed out";
        // Each look changes the view, so each makes a call.
        flip = flip === "Trash" ? "Groups" : "Trash";
        await other
          .getByRole("navigation", { name: "Views" })
          .getByRole("button", { name: flip, exact: true })
          .click({ timeout: 1_000 })
          .catch(() => {});
        await other.waitForTimeout(300);
        return (await other.locator('input[name="email"]').count()) ? "signed out" : "still in";
      },
      { timeout: 45_000 },
    ).toBe("signed out");
    expect(await other.getByRole("alert").textContent()).toMatch(/(sign|log) in again/);
    await ctx.close();
    // A's own session goes on.
    await view(page, "Files");
    await row("Reports").waitFor();
    expect(problems).toEqual([]);
  });

  it("the file list by keyboard only: Tab into it, ↑/↓ between rows, Enter opens a folder", async () => {
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await row("Archive").waitFor();
    await page.getByLabel("Sort").focus();
    // Tab from the sort control reaches the first row's name.
    await page.keyboard.press("Tab");
    const focused = () =>
      page.evaluate<string>('document.activeElement?.closest("tr")?.getAttribute("data-name") ?? ""');
    expect(await focused()).toBe("Archive");
    await page.keyboard.press("ArrowDown");
    expect(await focused()).toBe(await page.locator("tbody tr").nth(1).getAttribute("data-name"));
    await page.keyboard.press("End");
    const last = await page.locator("tbody tr").last().getAttribute("data-name");
    expect(await focused()).toBe(last);
    await page.keyboard.press("Home");
    expect(await focused()).toBe("Archive");
    await page.keyboard.press("Enter");
    await until(() => page.getByRole("navigation", { name: "Breadcrumbs" }).textContent()).toMatch(
      /Reports\s*\/\s*Archive/,
    );
    await row("renamed.txt").waitFor();
    // Enter on a file opens its details.
    await page.getByLabel("Sort").focus();
    await page.keyboard.press("Tab");
    const first = await page.locator("tbody tr").first().getAttribute("data-name");
    await page.keyboard.press("Enter");
    await page.getByRole("complementary", { name: `Details of ${first}` }).waitFor();
    await page.getByRole("button", { name: "Close details" }).click();
    expect(problems).toEqual([]);
  });

  it("every view at 390 px wide: no horizontal overflow", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await view(page, "Files");
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await row("photo.png").getByRole("button", { name: "Show details of photo.png" }).click();
    await page.getByRole("img", { name: "Preview of photo.png" }).waitFor();
    await shot(page, "browser-390", true);
    expect(await noOverflow(page)).toBeLessThanOrEqual(0);
    await row("photo.png").getByRole("button", { name: "Share photo.png" }).click();
    await shot(page, "share-dialog-390");
    expect(await noOverflow(page)).toBeLessThanOrEqual(0);
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    for (const [v, region] of [
      ["Shared with me", "Shared with me"],
      ["Trash", "Trash"],
      ["Groups", "Groups"],
      ["Sessions", "Sessions"],
    ] as const) {
      await view(page, v);
      await page.getByRole("region", { name: region }).waitFor();
      if (v === "Groups") await page.getByRole("button", { name: "Open group Team" }).click();
      await page.waitForTimeout(200);
      await shot(page, `${v.toLowerCase().replaceAll(" ", "-")}-390`, true);
      expect(await noOverflow(page), v).toBeLessThanOrEqual(0);
    }
    await view(pageB, "Files");
    await pageB.setViewportSize({ width: 390, height: 844 });
    await shot(pageB, "browser-b-390", true);
    expect(await noOverflow(pageB)).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(problems).toEqual([]);
  });

  it("pages through a large folder with Load more, and sorts newest first", async () => {
    const email = `console-paging-${run}@example.com`;
    const password = "a paging passphrase";
    expect(
      (await rest(t.base, "POST", "/v1/auth:register", { email, password, displayName: "Pager" })).status,
    ).toBe(200);
    // Access tokens live 6 s here: the setup signs in again when its token has expired.
    const auth = async () => ({
      authorization: `Bearer ${(await rest(t.base, "POST", "/v1/auth:login", { email, password })).body.accessToken}`,
    });
    let headers = await auth();
    const home = (await rest(t.base, "GET", "/v1/users/me", undefined, headers)).body.homeFolderId;
    for (let i = 0; i < 55; i++) {
      const name = `f${String(i).padStart(2, "0")}`;
      // A busy database answers 503 with Retry-After (admission control): wait and retry; an
      // expired token: sign in again.
      let res = await rest(t.base, "POST", "/v1/folders", { parentId: home, name }, headers);
      for (let n = 0; (res.status === 503 || res.status === 401) && n < 20; n++) {
        if (res.status === 401) headers = await auth();
        else await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("retry-after") || 1)));
        res = await rest(t.base, "POST", "/v1/folders", { parentId: home, name }, headers);
      }
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="password"]').fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await row("f00").waitFor({ timeout: 45_000 }); // a sign-in (bcrypt) and a listing under load
    expect(await page.locator("tbody tr").count()).toBe(50); // the console's page size
    expect(await row("f50").count()).toBe(0);
    await page.getByRole("button", { name: "Load more" }).click();
    await row("f54").waitFor();
    expect(await page.locator("tbody tr").count()).toBe(55);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);

    await page.getByLabel("Sort").selectOption("FILE_ORDER_UPDATE_TIME");
    await until(() => page.locator("tbody tr").first().getAttribute("data-name")).toBe("f54");
    expect(problems).toEqual([]);
  });

  it("refreshes the short-lived access token ahead of expiry and keeps working", async () => {
    const before = refreshes;
    await page.waitForTimeout(4_500); // past two thirds of the 6 s lifetime
    await page.getByLabel("Sort").selectOption("FILE_ORDER_NAME");
    await until(() => page.locator("tbody tr").first().getAttribute("data-name")).toBe("f00");
    expect(refreshes).toBeGreaterThan(before);
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
