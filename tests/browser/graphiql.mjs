// Opens GraphiQL in headless Chromium, runs an operation and checks its result.
// Usage: node graphiql.mjs <base-url> <operation> <expected text in the result>
//          [<headers JSON> [<trigger JSON> [<operation> <expected>]…]]
// With headers, they are typed into GraphiQL's Headers tab. With a trigger
// (a GraphQL request body), the operation is a subscription: once its socket
// is acknowledged, the trigger is POSTed with the same headers, and the event
// it causes must show in the result. Further operation/expected pairs run
// next, one after another, typed in the same page (headers as GraphiQL left
// them); empty headers or trigger mean none.
// Any request to another origin fails the test: GraphiQL must work offline.
import { chromium } from "playwright-core";

const [base, query, expected, headers, trigger, ...next] = process.argv.slice(2);
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

  let acknowledged = false;
  page.on("websocket", (ws) => {
    ws.on("framereceived", (f) => {
      if (String(f.payload).includes("connection_ack")) acknowledged = true;
    });
  });

  await page.goto(`${base}/graphql`, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20000 });
  if (headers) {
    await page.click('button[data-name="headers"]');
    await page.waitForTimeout(200);
    await page.evaluate((value) => {
      const editors = [...document.querySelectorAll(".graphiql-editor-tool .graphiql-editor")];
      const shown = editors.find((e) => !e.classList.contains("hidden"));
      shown.querySelector(".CodeMirror").CodeMirror.setValue(value);
    }, headers);
  }
  // Type like a user: GraphiQL picks the operation from the editor's change events.
  const run = async (text) => {
    await page.click(".graphiql-query-editor .CodeMirror");
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(text);
    await page.waitForTimeout(500);
    await page.click(".graphiql-execute-button");
  };
  const shown = (text) =>
    page.waitForFunction(
      (text) => {
        const el = document.querySelector(".result-window .CodeMirror");
        return el && el.CodeMirror.getValue().includes(text);
      },
      text,
      { timeout: 20000 },
    );
  const result = () =>
    page.evaluate(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue());
  await run(query);
  if (trigger) {
    for (let i = 0; i < 200 && !acknowledged; i++) await page.waitForTimeout(50);
    if (!acknowledged) throw new Error("the subscription's socket was never acknowledged");
    // The server starts the stream right after the ack; give it a moment.
    await page.waitForTimeout(500);
    const res = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...JSON.parse(headers) },
      body: trigger,
    });
    console.log(`trigger: ${res.status} ${await res.text()}`);
  }
  await shown(expected);
  console.log(await result());
  for (let i = 0; i + 1 < next.length; i += 2) {
    await run(next[i]);
    await shown(next[i + 1]);
    console.log(await result());
  }
} catch (e) {
  console.error(problems.join("\n"));
  const page = browser.contexts()[0]?.pages()[0];
  if (page) {
    const seen = await page.evaluate(() =>
      [...document.querySelectorAll(".CodeMirror")].map((el) => el.CodeMirror.getValue()),
    ).catch(() => []);
    console.error(`editors at the failure:\n${seen.join("\n---\n")}`);
  }
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
