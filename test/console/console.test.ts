// The web console in a real browser: Debian's Chromium (scripts/browser.sh installs it) driven
// by playwright-core against the local gateway, which serves console/dist (built by
// `npm run build`) at / in front of an in-process mesh. A person's path through it: register,
// sign out, a wrong password (the API's error shown), sign in, create a folder, upload by the
// file picker and see the file READY, download it, rename it, upload by drag-and-drop and a
// large file through an upload session in parts, an upload over the quota (its error shown),
// move a file to the trash and restore it; then paging and sort of a 55-item folder and the
// early refresh of short-lived access tokens. No console errors anywhere; screenshots at
// 1280×800 and 390 px wide go to .tmp/console/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rest, startTarget, type Target } from "../conformance/target.js";

const root = join(import.meta.dirname, "..", "..");
const consoleDir = join(root, "console", "dist");
const shots = join(root, ".tmp", "console");
const chromiumPath = "/usr/bin/chromium";

let t: Target;
let context: BrowserContext;
let page: Page;
let profile: string;
const problems: string[] = [];
let refreshes = 0;
// Chromium logs every non-2xx fetch as a console error; the two failures this test provokes on
// purpose (the wrong password, the upload over the quota) are expected, any other fails the test.
const expectedFailures = [/\/v1\/auth:login$/, /\/v1\/files:upload\?.*name=over-quota\.bin/];

beforeAll(async () => {
  if (!existsSync(join(consoleDir, "index.html")))
    throw new Error("console/dist is missing: run npm run build");
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/browser.sh`);
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    // A Redis database of its own: the browser reaches the gateway from 127.0.0.1 like every
    // other suite's client, and failed logins (with the delays they set) are counted per address.
    env: { REDIS_URL: `redis://127.0.0.1:6379/${1 + Math.floor(Math.random() * 15)}` },
    // Access tokens that live 6 s: the console refreshes them ahead of expiry (counted below).
    // A quota of 10 MiB + 150 KiB: the 10 MiB upload fits, a 200 KiB one after it does not.
    serviceEnv: {
      auth: { ACCESS_TOKEN_TTL: "6s" },
      file: { DEFAULT_QUOTA_BYTES: String(10 * 1024 * 1024 + 150 * 1024) },
    },
    gatewayEnv: { CONSOLE_DIR: consoleDir },
  });
  profile = mkdtempSync(join(tmpdir(), "filemesh-console-"));
  mkdirSync(shots, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("response", (r) => {
    if (r.url().endsWith("/v1/auth:refresh")) {
      refreshes++;
      if (r.status() !== 200) problems.push(`refresh answered ${r.status()}`);
    }
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location().url;
    if (m.text().startsWith("Failed to load resource") && expectedFailures.some((re) => re.test(url))) return;
    problems.push(`console.error: ${m.text()} (${url})`);
  });
});

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await t?.stop();
});

const row = (name: string) => page.locator(`tr[data-name="${name}"]`);

describe("web console in Chromium", () => {
  it("is served at / with a same-origin CSP, and the API paths stay the API's", async () => {
    const res = await page.goto(`${t.base}/`);
    expect(res?.status()).toBe(200);
    const csp = res?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await expect.poll(() => page.title()).toBe("filemesh");

    // A client-side route falls back to the app; an API path never does.
    const deep = await page.request.get(`${t.base}/folders/somewhere`);
    expect(deep.headers()["content-type"]).toContain("text/html");
    const api = await page.request.get(`${t.base}/v1/nowhere`);
    expect(api.status()).toBe(404);
    expect(api.headers()["content-type"]).toContain("application/json");
    const health = await page.request.get(`${t.base}/healthz`);
    expect(health.headers()["content-type"]).toContain("application/json");
  });

  it("register, sign out, a wrong password shows the API's error, sign in, and the file workflow", async () => {
    const email = `console-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const password = "a console passphrase";
    await page.goto(`${t.base}/`);

    // Keyboard: the first Tab lands in the form.
    await page.keyboard.press("Tab");
    expect(await page.evaluate('document.activeElement?.getAttribute("name")')).toBe("email");

    await page.getByRole("button", { name: "No account? Register" }).click();
    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="displayName"]').fill("Console Tester");
    await page.locator('input[name="password"]').fill(password);
    await page.getByRole("button", { name: "Register", exact: true }).click();
    await page.locator(".who, [role=alert]").first().waitFor();
    expect(await page.getByRole("alert").count(), (await page.locator("body").textContent()) ?? "").toBe(0);
    expect(await page.locator(".who").textContent()).toBe("Console Tester");
    await page.getByRole("button", { name: "Sign out" }).click();

    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="password"]').fill("not the passphrase");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    // The API's own message and ErrorInfo reason, not a generic text.
    expect(await alert.textContent()).toMatch(/[A-Z_]{6,}/);
    await page.screenshot({ path: join(shots, "login-error-1280.png") });

    await page.locator('input[name="password"]').fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("navigation", { name: "Breadcrumbs" }).waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.locator(".usage-text").waitFor();

    // A folder, then into it.
    await page.getByLabel("New folder name").fill("Reports");
    await page.getByRole("button", { name: "Create folder" }).click();
    await row("Reports").waitFor();
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await expect
      .poll(() => page.getByRole("navigation", { name: "Breadcrumbs" }).textContent())
      .toMatch(/Home\s*\/\s*Reports/);

    // Upload through the file picker; the row reaches READY.
    const content = `hello from the console ${email}\n`;
    await page
      .locator('input[type="file"]')
      .setInputFiles({ name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from(content) });
    await row("hello.txt").waitFor();
    await expect
      .poll(() => row("hello.txt").locator(".state").textContent(), { timeout: 15_000 })
      .toBe("READY");
    await expect.poll(() => page.locator(".upload-done").count()).toBe(1);

    // Download: the same bytes.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row("hello.txt").getByRole("button", { name: "Download hello.txt" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("hello.txt");
    expect(readFileSync(await download.path()).toString()).toBe(content);

    // Rename (Escape cancels; Enter saves).
    await row("hello.txt").getByRole("button", { name: "Rename hello.txt" }).click();
    await page.keyboard.press("Escape");
    expect(await page.getByLabel("New name for hello.txt").count()).toBe(0);
    await row("hello.txt").getByRole("button", { name: "Rename hello.txt" }).click();
    await page.getByLabel("New name for hello.txt").fill("renamed.txt");
    await page.keyboard.press("Enter");
    await row("renamed.txt").waitFor();
    expect(await row("hello.txt").count()).toBe(0);
    await page.screenshot({ path: join(shots, "browser-1280.png") });

    // Drag and drop onto the listing.
    const dropped = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
      return dt;
    })()`);
    await page.locator("section.browser").dispatchEvent("drop", { dataTransfer: dropped });
    await row("dropped.txt").waitFor();
    await expect.poll(() => row("dropped.txt").locator(".state").textContent()).toBe("READY");

    // A large file goes through an upload session in parts (PUT …/parts/{n} via the gateway).
    const parts: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "PUT" && /\/v1\/uploads\/[^/]+\/parts\/\d+$/.test(r.url())) parts.push(r.url());
    });
    const big = Buffer.alloc(10 * 1024 * 1024 + 123, 7);
    await page
      .locator('input[type="file"]')
      .setInputFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: big });
    await row("big.bin").waitFor({ timeout: 30_000 });
    await expect
      .poll(() => row("big.bin").locator(".state").textContent(), { timeout: 15_000 })
      .toBe("READY");
    expect(await row("big.bin").locator("td.num").textContent()).toBe("10 MiB");
    expect(parts.length).toBeGreaterThanOrEqual(2);

    // Over the quota: the upload fails with the API's reason, shown beside the file.
    await page.locator('input[type="file"]').setInputFiles({
      name: "over-quota.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(200 * 1024, 1),
    });
    const failed = page.locator(".upload-failed", { hasText: "over-quota.bin" });
    await failed.waitFor();
    expect(await failed.locator(".upload-status").textContent()).toContain("QUOTA_EXCEEDED");
    expect(await row("over-quota.bin").count()).toBe(0);
    expect(await page.locator(".usage-text").textContent()).toMatch(/of 10 MiB/);
    await page.screenshot({ path: join(shots, "upload-error-1280.png") });

    // Trash, then restore from the trash view.
    await row("renamed.txt").getByRole("button", { name: "Move renamed.txt to trash" }).click();
    await expect.poll(() => row("renamed.txt").count()).toBe(0);
    await page.getByRole("button", { name: "Trash", exact: true }).click();
    await row("renamed.txt").waitFor();
    await page.screenshot({ path: join(shots, "trash-1280.png") });
    await row("renamed.txt").getByRole("button", { name: "Restore renamed.txt" }).click();
    await expect.poll(() => row("renamed.txt").count()).toBe(0);
    await page.getByRole("button", { name: "Files", exact: true }).click();
    await row("Reports").getByRole("button", { name: "Open folder Reports" }).click();
    await row("renamed.txt").waitFor();

    // A narrow phone screen: nothing wider than the viewport.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(shots, "browser-390.png"), fullPage: true });
    const overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);

    expect(problems).toEqual([]);
  });

  it("pages through a large folder with Load more, and sorts newest first", async () => {
    const email = `console-paging-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const password = "a paging passphrase";
    expect(
      (await rest(t.base, "POST", "/v1/auth:register", { email, password, displayName: "Pager" })).status,
    ).toBe(200);
    const login = await rest(t.base, "POST", "/v1/auth:login", { email, password });
    const auth = { authorization: `Bearer ${login.body.accessToken}` };
    const home = (await rest(t.base, "GET", "/v1/users/me", undefined, auth)).body.homeFolderId;
    for (let i = 0; i < 55; i++) {
      const name = `f${String(i).padStart(2, "0")}`;
      expect((await rest(t.base, "POST", "/v1/folders", { parentId: home, name }, auth)).status).toBe(200);
    }

    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="password"]').fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await row("f00").waitFor();
    expect(await page.locator("tbody tr").count()).toBe(50); // the console's page size
    expect(await row("f50").count()).toBe(0);
    await page.getByRole("button", { name: "Load more" }).click();
    await row("f54").waitFor();
    expect(await page.locator("tbody tr").count()).toBe(55);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);

    await page.getByLabel("Sort").selectOption("FILE_ORDER_UPDATE_TIME");
    await expect.poll(() => page.locator("tbody tr").first().getAttribute("data-name")).toBe("f54");
    expect(problems).toEqual([]);
  });

  it("refreshes the short-lived access token ahead of expiry and keeps working", async () => {
    const before = refreshes;
    await page.waitForTimeout(4_500); // past two thirds of the 6 s lifetime
    await page.getByLabel("Sort").selectOption("FILE_ORDER_NAME");
    await expect.poll(() => page.locator("tbody tr").first().getAttribute("data-name")).toBe("f00");
    expect(refreshes).toBeGreaterThan(before);
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
