// Opens GraphiQL in headless Chromium, runs a query and checks its result.
// Usage: node graphiql.mjs <base-url> <query> <expected text in the result>
// Any request to another origin fails the test: GraphiQL must work offline.
import { chromium } from "playwright-core";

const [base, query, expected] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const foreign = [];
const problems = [];
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });

  await page.goto(`${base}/graphql`, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20000 });
  // Type like a user: GraphiQL picks the operation from the editor's change events.
  await page.click(".graphiql-query-editor .CodeMirror");
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(query);
  await page.waitForTimeout(500);
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    (text) => {
      const el = document.querySelector(".result-window .CodeMirror");
      return el && el.CodeMirror.getValue().includes(text);
    },
    expected,
    { timeout: 20000 },
  );
  const result = await page.evaluate(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue());
  console.log(result);
} catch (e) {
  console.error(problems.join("\n"));
  throw e;
} finally {
  await browser.close();
}
if (foreign.length) {
  console.error(`GraphiQL asked for other origins (it must work offline): ${foreign.join(", ")}`);
  process.exit(1);
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
