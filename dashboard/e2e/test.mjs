// Drives the dashboard in Debian's Chromium (headless, through
// playwright-core) against a running daemon. integration/dashboard_test.go
// starts the daemon with two running instances and a few hundred asleep
// ones, makes the tokens and runs this inside the test manager's network
// namespace:
//
//   DASHBOARD_URL     the root domain's URL, e.g. http://127.0.0.1:8080/
//   ADMIN_TOKEN       an admin token
//   TENANT_TOKEN      a tenant token
//   TENANT_INSTANCE   the tenant's instance (service:id), running
//   STOP_INSTANCE     another tenant's instance, running, which the admin stops
//   ASLEEP_PREFIX     with ASLEEP_INSTANCES=N: the asleep instances are
//                     PREFIX000 to PREFIX(N-1), e.g. web:t000
//   SCREENSHOT_DIR    where dashboard.png (and -phone, -tenant) go
//   CHROMIUM          the browser (default /usr/bin/chromium)
//
// It prints one line per check and exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`test.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const base = need('DASHBOARD_URL');
const adminToken = need('ADMIN_TOKEN');
const tenantToken = need('TENANT_TOKEN');
const tenantInstance = need('TENANT_INSTANCE');
const stopInstance = need('STOP_INSTANCE');
const tenantDomain = need('TENANT_DOMAIN');
const asleepPrefix = need('ASLEEP_PREFIX');
const asleepCount = Number(need('ASLEEP_INSTANCES'));
const shots = need('SCREENSHOT_DIR');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const tenantId = tenantInstance.split(':')[1];
const PAGE = 50; // the dashboard's rows per page
const asleep = Array.from({ length: asleepCount }, (_, i) => asleepPrefix + String(i).padStart(3, '0'));
// Every instance, in the API's order (service, then id: byte order).
const all = [tenantInstance, stopInstance, ...asleep].sort((a, b) => {
  const [sa, ia] = a.split(':');
  const [sb, ib] = b.split(':');
  return sa === sb ? (ia < ib ? -1 : 1) : sa < sb ? -1 : 1;
});

let checks = 0;
function ok(what) {
  checks++;
  console.log(`ok ${checks} - ${what}`);
}

function fail(what) {
  throw new Error(what);
}

// waitFor polls f until it returns a truthy value.
async function waitFor(what, f, timeout = 30000) {
  const until = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await f();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) fail(`${what}: not within ${timeout} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rowNames = (page) => page.locator('#rows tr th .name').allTextContents();
// rowsAre waits until the table shows exactly these instances, in order.
const rowsAre = (page, want) => waitFor(`rows ${want.length > 2 ? `${want[0]} … ${want.at(-1)} (${want.length})` : want.join(', ')}`,
  async () => (await rowNames(page)).join() === want.join());
const stateOf = (page, name) => page.locator(`#rows tr[data-instance="${name}"] td[data-col="state"] .badge`).textContent();

async function signIn(page, token) {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  timeout: 60000,
  // Playwright gives every launch a new, empty profile directory.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A rejected token is a 401 the browser logs; anything else (a
    // script error, a blocked inline style or script) is a defect.
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  const external = [];
  let lists = 0;
  page.on('request', (r) => {
    if (!r.url().startsWith(new URL(base).origin)) external.push(r.url());
    const u = new URL(r.url());
    if (u.pathname === '/api/instances' && r.method() === 'GET') {
      lists++;
      if (u.searchParams.get('limit') !== String(PAGE)) problems.push(`the dashboard asked for ${u.search || 'every instance'}, not a page of ${PAGE}`);
    }
  });

  // 1. The page loads without a token and asks for one.
  const resp = await page.goto(base);
  if (resp.status() !== 200) fail(`GET ${base}: ${resp.status()}`);
  // Count the table's rows at every change, whoever signs in.
  await page.evaluate(() => {
    const rows = document.getElementById('rows');
    window.maxRows = 0;
    new MutationObserver(() => { window.maxRows = Math.max(window.maxRows, rows.children.length); })
      .observe(rows, { childList: true });
  });
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  ok('the page loads without a token and shows the sign-in form');

  // 2. A wrong token is refused with a message.
  await signIn(page, 'not-a-token');
  await waitFor('error for a wrong token', async () => /not accepted/.test(await page.locator('#signin-error').textContent()));
  ok('a wrong token is refused with a message');

  // 3. The admin sees the first page of instances and the summary of all.
  await signIn(page, adminToken);
  await rowsAre(page, all.slice(0, PAGE));
  ok(`the admin sees the first ${PAGE} of ${all.length} instances, in order, both running ones first`);
  if (!/admin/.test(await page.locator('#who-label').textContent())) fail('not signed in as admin');
  await waitFor('summary of 2 awake', async () => (await page.locator('#s-awake').textContent()) === '2');
  if ((await page.locator('#s-instances').textContent()) !== String(all.length)) fail(`summary does not count ${all.length} instances`);
  const wakes = Number(await page.locator('#s-wakes').textContent());
  const requests = Number(await page.locator('#s-requests').textContent());
  if (!(wakes >= 1 && requests >= 3)) fail(`summary: ${wakes} wakes in the last minute, ${requests} requests; want >= 1 and >= 3`);
  const wakeTime = (await page.locator('#s-wake-time').textContent()).trim();
  if (!/^[\d.,]+ ms$/.test(wakeTime)) fail(`summary: wake time ${JSON.stringify(wakeTime)}, want "N ms"`);
  if (!/request [1-9]/.test(await page.locator('#s-wake-time').getAttribute('title'))) fail('summary: no request wakes by cause');
  ok(`the summary counts ${all.length} instances, 2 awake, ${wakes} wake(s) in the last minute, ${requests} requests, wakes of ${wakeTime} on average`);
  for (const col of ['state', 'health', 'weight', 'uptime', 'memory', 'cpu', 'restarts', 'wake']) {
    const text = (await page.locator(`#rows tr[data-instance="${tenantInstance}"] td[data-col="${col}"]`).textContent()).trim();
    if (!text) fail(`column ${col} is empty`);
  }
  if ((await stateOf(page, stopInstance)) !== 'running') fail(`${stopInstance} is not running at first`);
  ok('every column of a row has a value');
  const domains = (await page.locator(`#rows tr[data-instance="${tenantInstance}"] th .domains`).textContent()).trim();
  if (domains !== tenantDomain) fail(`the row of ${tenantInstance} shows the custom domains "${domains}", want "${tenantDomain}"`);
  ok(`the row of ${tenantInstance} shows its custom domain ${tenantDomain}`);

  // 4. Stop one instance from the UI, confirming in the dialog.
  await page.getByRole('button', { name: `Stop ${stopInstance}`, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Stop ${stopInstance}?` });
  await dialog.waitFor();
  ok('stopping asks for confirmation');
  await dialog.getByRole('button', { name: 'Stop', exact: true }).click();
  await waitFor(`${stopInstance} asleep`, async () => (await stateOf(page, stopInstance)) === 'asleep');
  await page.getByRole('button', { name: `Start ${stopInstance}`, exact: true }).waitFor();
  await waitFor(`summary of ${asleepCount + 1} asleep`, async () => (await page.locator('#s-asleep').textContent()) === String(asleepCount + 1));
  await waitFor('the live region', async () => (await page.locator('#announce').textContent()).includes(`${stopInstance} is now asleep`));
  ok(`${stopInstance} is asleep after the stop; the summary and the live region follow`);
  await waitFor('the keyboard focus back in the row', () => page.evaluate(
    (name) => document.activeElement && document.activeElement.closest('tr')?.dataset.instance === name, stopInstance));
  ok('after the action the focus is back on the row\'s buttons');
  await waitFor('the toast', async () => /Stopped/.test(await page.locator('#toast').textContent()));

  // 5. Logs, opened from the keyboard.
  await page.getByRole('button', { name: `Logs ${tenantInstance}`, exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: `Logs of ${tenantInstance}` }).waitFor();
  await waitFor('log lines', async () => /testapp/.test(await page.locator('#log-lines').textContent()));
  ok('the logs of an instance open from the keyboard and show its lines');

  await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
  ok('screenshot dashboard.png');

  // 6. On a phone the rows are cards.
  await page.setViewportSize({ width: 390, height: 844 });
  const display = await page.locator('#rows tr').first().evaluate((e) => getComputedStyle(e).display);
  if (display !== 'block') fail(`on a phone a row is displayed ${display}, want block (a card)`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`on a phone the page scrolls sideways by ${overflow}px`);
  await page.screenshot({ path: path.join(shots, 'dashboard-phone.png'), fullPage: true });
  ok('on a phone the rows are cards and nothing scrolls sideways');
  await page.setViewportSize({ width: 1280, height: 820 });

  // 7. One page at a time: the search, the state filter, next and back,
  // all from the keyboard.
  const search = page.getByLabel('Search', { exact: true });
  const stateFilter = page.getByLabel('State', { exact: true });
  const nextPage = page.getByRole('button', { name: 'Next page', exact: true });
  const prevPage = page.getByRole('button', { name: 'Previous page', exact: true });
  const status = () => page.locator('#page-status').textContent();
  if ((await prevPage.isEnabled()) || !(await nextPage.isEnabled()) || (await status()) !== `Instances 1–${PAGE}`) {
    fail(`the first page: Previous enabled ${await prevPage.isEnabled()}, Next enabled ${await nextPage.isEnabled()}, status "${await status()}"`);
  }
  ok(`the first page says "Instances 1–${PAGE}" and offers only Next page`);

  const one = asleep[Math.floor(asleepCount * 0.41)];
  await search.focus();
  await page.keyboard.type(one.split(':')[1]);
  await rowsAre(page, [one]);
  if (await page.locator('#pager').isVisible()) fail('one found instance still shows the pager');
  ok(`typing "${one.split(':')[1]}" in the search box finds ${one} alone`);
  await search.fill(`${one}x`);
  await waitFor('no match', async () => (await rowNames(page)).length === 0 && (await page.locator('#empty').textContent()) === 'No instances match.');
  await search.fill('');
  await rowsAre(page, all.slice(0, PAGE));
  ok('a search that matches nothing says so; clearing the search shows the first page again');

  await stateFilter.focus();
  await stateFilter.selectOption('running');
  await rowsAre(page, [tenantInstance]);
  ok(`the state filter "running" shows only ${tenantInstance}`);
  await stateFilter.selectOption('asleep');
  const asleepNow = all.filter((n) => n !== tenantInstance);
  await rowsAre(page, asleepNow.slice(0, PAGE));
  const states = await page.locator('#rows td[data-col="state"] .badge').allTextContents();
  if (states.length !== PAGE || states.some((s) => s !== 'asleep')) fail(`the asleep filter shows states ${[...new Set(states)]}`);
  ok(`the state filter "asleep" shows the first ${PAGE} of ${asleepNow.length} asleep instances`);

  const pages = Math.ceil(asleepNow.length / PAGE);
  await nextPage.focus();
  for (let p = 1; p < pages; p++) {
    await page.keyboard.press('Enter');
    const want = asleepNow.slice(p * PAGE, (p + 1) * PAGE);
    await rowsAre(page, want);
    await waitFor(`status of page ${p + 1}`, async () => (await status()) === `Instances ${p * PAGE + 1}–${p * PAGE + want.length}`);
  }
  if (await nextPage.isEnabled()) fail('Next page is enabled on the last page');
  if (!(await page.evaluate(() => document.activeElement && document.activeElement.id === 'prev-page'))) fail('the focus is not on Previous page once Next page is disabled');
  ok(`Next page (Enter) goes through all ${pages} pages to the last (${asleepNow.at(-1)}); there the focus moves to Previous page`);
  await page.keyboard.press('Enter');
  await rowsAre(page, asleepNow.slice((pages - 2) * PAGE, (pages - 1) * PAGE));
  await waitFor('the status back', async () => (await status()) === `Instances ${(pages - 2) * PAGE + 1}–${(pages - 1) * PAGE}`);
  await prevPage.click();
  await rowsAre(page, asleepNow.slice((pages - 3) * PAGE, (pages - 2) * PAGE));
  ok('Previous page goes back a page at a time');
  await stateFilter.selectOption('');
  await rowsAre(page, all.slice(0, PAGE));
  ok('all states again: the first page');

  const maxRows = await page.evaluate(() => window.maxRows);
  if (maxRows > PAGE) fail(`the table held ${maxRows} rows at once`);
  ok(`the table never held more than ${PAGE} rows (at most ${maxRows}); each of the ${lists} lists asked for a page of ${PAGE}`);

  // 8. A tenant sees only its own instance, without admin actions.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, tenantToken);
  if ((await page.locator('#toast').textContent()) !== '') fail('the admin\'s last message is still shown after signing out');
  await waitFor('tenant label', async () => (await page.locator('#who-label').textContent()).includes(`tenant ${tenantId}`));
  await waitFor('one row', async () => (await rowNames(page)).length === 1);
  const mine = await rowNames(page);
  if (mine.join() !== tenantInstance) fail(`tenant sees ${mine}, want only ${tenantInstance}`);
  if (await page.locator('button[data-action="stop"], button[data-action="weight"], #spawn-form:not([hidden])').count()) {
    fail('a tenant is offered admin actions');
  }
  if ((await page.locator('#s-instances').textContent()) !== '1') fail('the tenant summary does not count 1 instance');
  ok(`the tenant sees only ${tenantInstance}, with no admin actions`);
  await page.screenshot({ path: path.join(shots, 'dashboard-tenant.png'), fullPage: true });

  if (external.length) fail(`requests left the daemon: ${external.join(', ')}`);
  ok('no request went anywhere but the daemon');
  if (problems.length) fail(`browser errors:\n  ${problems.join('\n  ')}`);
  ok('no script errors and no blocked content');
  await context.close();
} catch (err) {
  console.log(`not ok - ${err.message}`);
  for (const p of browser.contexts().flatMap((c) => c.pages())) {
    await p.screenshot({ path: path.join(shots, 'dashboard-failure.png'), fullPage: true }).catch(() => {});
  }
  if (problems.length) console.log(`browser errors:\n  ${problems.join('\n  ')}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(`e2e: all ${checks} checks passed`);
