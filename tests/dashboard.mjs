// dashboard.mjs - headless Chromium (the system's chromium, driven by
// playwright-core) uses the dashboard as a person would: is sent to the
// login page, logs in, opens the overview, a domain, its readiness view
// and a report, and checks what is shown against what the test stored
// (expect.json, written by t_dashboard.sh from the CLI's --json). Fails on a console
// error, a script from a report running, or a page wider than a phone.
// Screenshots go to OUT.
//
// node dashboard.mjs BASE-URL IP OUT EXPECT.json
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

// playwright-core lives in NODE_DIR (scripts/deps.sh), not beside us.
const require = createRequire(process.env.NODE_DIR + '/node_modules/');
const { chromium } = require('playwright-core');

const [base, ip, out, expectFile] = process.argv.slice(2);
const want = JSON.parse(readFileSync(expectFile, 'utf8'));
const host = new URL(base).hostname;
let failed = false;
function expect(cond, what) {
	console.log((cond ? 'ok   ' : 'FAIL ') + what);
	if (!cond) failed = true;
}

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
	    `--host-resolver-rules=MAP ${host} ${ip}`],
});
try {
	const ctx = await browser.newContext({ viewport: { width: 1024, height: 800 } });
	const page = await ctx.newPage();
	const errors = [], dialogs = [];
	page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
	page.on('pageerror', e => errors.push(String(e)));
	page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });

	await page.goto(base + '/');
	expect(new URL(page.url()).pathname === '/login', 'anonymous: sent to /login');
	await page.screenshot({ path: out + '/login.png' });
	await page.fill('input[name=email]', want.email);
	await page.fill('input[name=password]', want.password);
	await Promise.all([page.waitForURL(base + '/'), page.click('form[action="/login"] button')]);
	expect(new URL(page.url()).pathname === '/', 'logged in: the overview');
	const names = await page.$$eval('tbody tr td:first-child', t => t.map(x => x.textContent));
	expect(JSON.stringify(names) === JSON.stringify(want.domains),
	    `overview lists the tenant's domains: ${names}`);
	await page.screenshot({ path: out + '/overview.png', fullPage: true });

	await Promise.all([page.waitForURL(base + '/domains/' + want.domain),
	    page.click(`a[href="/domains/${want.domain}"]`)]);
	expect((await page.textContent('h1')) === want.domain, 'the domain page');
	const bars = await page.$$eval('svg.chart g title', t => t.map(x => x.textContent));
	expect(bars.includes(want.bar), `the chart's bar for ${want.day}: ${want.bar}`);
	const orgs = await page.$$eval('h2 + div table tr td:first-child', t => t.map(x => x.textContent));
	for (const o of want.orgs)
		expect(orgs.includes(o), `organization ${o} in a table`);
	const hidden = await page.$$eval('button[data-copy]', b => b.filter(x => x.hidden).length);
	const buttons = await page.$$eval('button[data-copy]', b => b.length);
	expect(buttons === 3 && hidden === 0, 'copy buttons shown when scripts run');
	const txt = await page.textContent('main');
	expect(txt.includes(want.policy_id), 'the policy id to publish');
	await page.screenshot({ path: out + '/domain.png', fullPage: true });

	await Promise.all([page.waitForURL(base + '/domains/' + want.domain + '/ready'),
	    page.click(`a[href="/domains/${want.domain}/ready"]`)]);
	const ready = await page.textContent('main');
	expect(ready.includes(want.summary), `readiness: ${want.summary}`);
	await page.screenshot({ path: out + '/ready.png', fullPage: true });

	await page.goto(base + '/reports/' + want.report);
	const rep = await page.textContent('main');
	expect(rep.includes(want.report_org), 'the report: its organization');
	expect(rep.includes(want.explained), 'the report: its failure explained');
	await page.screenshot({ path: out + '/report.png', fullPage: true });

	await page.goto(base + '/reports/' + want.xss);
	const x = await page.textContent('main');
	expect(x.includes('<script>alert(1)</script>'), "a report's markup shown as text");
	expect(dialogs.length === 0, 'no script from a report ran');

	await page.setViewportSize({ width: 390, height: 844 });
	await page.goto(base + '/domains/' + want.domain);
	const wide = await page.evaluate(() =>
	    document.documentElement.scrollWidth > window.innerWidth + 1);
	expect(!wide, 'the domain page fits a phone screen');
	await page.screenshot({ path: out + '/domain-phone.png' });
	expect(errors.length === 0, 'no console errors' + (errors.length ? ': ' + errors.join('; ') : ''));
} finally {
	await browser.close();
}
process.exit(failed ? 1 : 0);
