import { request } from 'node:http';
import { join } from 'node:path';
import type { Browser, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RotationResult } from '../../workflows/rotation-types.js';
import { kvVersion, postgresSecretYaml, rotate, seed } from '../helpers/rotation-fixtures.js';
import { startTestStack, type TestStack } from '../helpers/test-stack.js';
import { launchChromium, type TemporalUi, withFreshUi } from './temporal-ui.js';

const SECRET = 'ui-codec-db';
const WORKFLOW_ID = `rotate/${SECRET}`;

/**
 * Decoded payloads in the Temporal Web UI (issue #16): the stack's UI address is rotor's gateway,
 * which serves the codec on the UI's own origin. Headless Debian Chromium opens the page of a real
 * rotation on the real dev server's UI: a browser that never visited the codec's login sees
 * encrypted bytes, one that did sees the input, the result and the status query decoded, and no
 * secret value is anywhere in what it was sent.
 */
describe('decoded payloads in the Temporal Web UI', () => {
  let stack: TestStack;
  let browser: Browser;
  let uiBase: string;
  let result: RotationResult;
  /** Both passwords the rotation touched, read from Vault: neither may reach the browser. */
  let passwords: string[];

  beforeAll(async () => {
    stack = await startTestStack('ui-codec', `secrets:\n${postgresSecretYaml(SECRET)}`);
    expect(await seed(stack, SECRET)).toBe(1);
    result = await rotate(stack, SECRET);
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    passwords = [(await kvVersion(stack, SECRET, 1)).data.password, (await kvVersion(stack, SECRET, 2)).data.password];
    expect(passwords.every((p) => p.length >= 16)).toBe(true);
    uiBase = `http://127.0.0.1:${stack.file.ports.temporalUi}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /**
   * A fresh browser profile (no cookie) per test. Every body the page received, decoded where it is
   * base64, is kept for the leak check; on failure the page is saved to the state dir.
   */
  function withUi(body: (ui: TemporalUi, received: () => Promise<string>) => Promise<void>): Promise<void> {
    return withFreshUi(browser, uiBase, join(stack.file.stateDir, 'ui-codec-failure.png'), async (ui, page) => {
      const responses: Response[] = [];
      page.on('response', (r) => void responses.push(r));
      // What the browser sent after logging in (URLs and headers: a Referer, a cookie), for the token scan.
      const sent: string[] = [];
      page.on('request', (r) => {
        if (!r.url().includes('/rotor-codec/login?')) void r.allHeaders().then((h) => sent.push(r.url(), JSON.stringify(h)));
      });
      const received = async () => {
        const texts: string[] = [await page.content(), ...sent];
        for (const r of responses) {
          const text = await r.text().catch(() => '');
          texts.push(text, ...[...text.matchAll(/"([A-Za-z0-9+/=]{16,})"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')));
        }
        return texts.join('\n');
      };
      await body(ui, received);
    });
  }

  const expectEncrypted = (text: string) => {
    expect(text).toMatch(/binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA==/);
    for (const decoded of ['"secretId"', '"outcome"', '"toVersion"', 'rotated']) expect(text).not.toContain(decoded);
  };

  it('without the codec login the codec refuses the UI (401): input and result show encrypted, no query result is shown', async () => {
    await withUi(async (ui) => {
      expect(await ui.openWorkflowDecoding(WORKFLOW_ID)).toBe(401);
      await ui.waitForStatus('Completed');
      expectEncrypted(await ui.inputAndResults());
      // What the UI says about it, and the Queries tab cannot even list the queries (their list is encrypted too).
      await ui.page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor();
      await ui.openQueriesTab();
      await ui.page.getByText('This will fail if you have no workers running.').waitFor();
      await ui.page.waitForTimeout(3_000);
      expect(await ui.page.getByTestId('query-result').count()).toBe(0);
      expect(await ui.page.locator('body').innerText()).not.toMatch(/"phase"|"secretId"/);
    });
  });

  it('a wrong token is refused at login and decodes nothing', async () => {
    await withUi(async (ui) => {
      expect(await ui.codecLogin(`${stack.file.codec.token.slice(0, -1)}x`)).toBe(401);
      await ui.page.getByText('wrong or missing codec token').waitFor();
      expect(await ui.openWorkflowDecoding(WORKFLOW_ID)).toBe(401);
      expectEncrypted(await ui.inputAndResults());
    });
  });

  it('after /rotor-codec/login the page shows the decoded input, result and status query, and no secret value; logout ends it', async () => {
    await withUi(async (ui, received) => {
      expect(await ui.codecLogin(stack.file.codec.token)).toBe(200);
      expect(await ui.openWorkflowDecoding(WORKFLOW_ID)).toBe(200);
      await ui.waitForStatus('Completed');
      await ui.page.getByText('"outcome": "rotated"').first().waitFor();
      const shown = (await ui.inputAndResults()).replace(/\s+/g, ' ');
      expect(shown).toContain(`"secretId": "${SECRET}"`);
      expect(shown).toContain('"requestedBy": "test"');
      expect(shown).toContain('"outcome": "rotated"');
      expect(shown).toContain('"fromVersion": 1');
      expect(shown).toContain('"toVersion": 2');
      expect(shown).not.toMatch(/binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA==/);

      const status = (await ui.query('status')).replace(/\s+/g, ' ');
      expect(status).toContain(`"secretId": "${SECRET}"`);
      expect(status).toContain('"phase": "done"');
      expect(status).toContain('"toVersion": 2');

      // Everything the browser holds: the page and every response it was sent, base64 decoded.
      const everything = await received();
      expect(everything).toContain('"outcome":"rotated"'); // the scan sees decoded payloads …
      for (const password of passwords) expect(everything).not.toContain(password); // … and no secret value
      expect(everything).not.toContain(stack.file.codec.token);
      expect(everything).toContain('rotor_codec='); // the scan saw the session cookie the browser sent, not the token

      expect(await ui.codecLogout()).toBe(200);
      expect(await ui.openWorkflowDecoding(WORKFLOW_ID)).toBe(401);
      expectEncrypted(await ui.inputAndResults());
    });
  });

  it('the Start Workflow form encodes its input with the codec: refused without the login, stored encrypted with it', async () => {
    const form = (workflowId: string) => ({ workflowId, taskQueue: stack.taskQueue, workflowType: 'rotateSecret', input: { secret: 'x' } });
    const refused = `ui-codec-no-login/${stack.taskQueue}`;
    await withUi(async (ui) => {
      const start = await ui.fillStartWorkflow(form(refused));
      const [encode] = await Promise.all([
        ui.page.waitForResponse((r) => new URL(r.url()).pathname === '/rotor-codec/encode'),
        start.click(),
      ]);
      expect(encode.status()).toBe(401);
      await ui.page.getByText('Error starting Workflow').first().waitFor();
      await expect(stack.client.workflow.getHandle(refused).describe()).rejects.toThrow(/not found/i);
    });
    const accepted = `ui-codec-login/${stack.taskQueue}`;
    await withUi(async (ui) => {
      expect(await ui.codecLogin(stack.file.codec.token)).toBe(200);
      await ui.startWorkflow(form(accepted));
    });
    const history = await stack.client.workflow.getHandle(accepted).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(Buffer.from(input?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    expect(Buffer.from(input?.data ?? []).includes('"secret"')).toBe(false);
  });

  it('refuses cross-site requests even with the login cookie, and oversized bodies', async () => {
    const decode = `${uiBase}/rotor-codec/decode`;
    const login = await fetch(`${uiBase}/rotor-codec/login?token=${stack.file.codec.token}`);
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/rotor-codec/);
    const cookie = setCookie.split(';')[0]!;
    const post = (headers: Record<string, string>) =>
      fetch(decode, { method: 'POST', headers: { 'content-type': 'application/json', cookie, ...headers }, body: '{"payloads":[]}' });
    // The control: the UI's own origin, as Chromium sends it, is served.
    expect((await post({ origin: uiBase, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await post({ origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(
      (await fetch(`${uiBase}/rotor-codec/login?token=${stack.file.codec.token}`, { headers: { 'sec-fetch-site': 'cross-site' } })).status,
    ).toBe(403);
    // More than any UI page of payloads: refused before it is decrypted.
    const huge = await fetch(decode, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.file.codec.token}` },
      body: `{"payloads":[{"data":"${'A'.repeat(16 * 1024 * 1024)}"}]}`,
    });
    expect(huge.status).toBe(413);
    // Without a cookie or a Bearer token, the same-origin call is refused too.
    expect((await fetch(decode, { method: 'POST', headers: { origin: uiBase }, body: '{"payloads":[]}' })).status).toBe(401);

    // The cookie is a session of 12 hours, not the token (cookies ignore ports: any server on this host sees it).
    expect(setCookie).toMatch(/Max-Age=43200/);
    expect(setCookie).not.toContain(stack.file.codec.token);
    const forged = (value: string) =>
      fetch(decode, {
        method: 'POST',
        headers: { cookie: `rotor_codec=${value}`, 'sec-fetch-site': 'same-origin' },
        body: '{"payloads":[]}',
      });
    expect((await forged(`${Math.floor(Date.now() / 1000) + 3600}.${'0'.repeat(64)}`)).status).toBe(401);
    expect((await forged(stack.file.codec.token)).status).toBe(401); // the raw token is no cookie
    // Behind the UI's origin, another port of this host (same site, not same origin) is refused too: no login or logout CSRF.
    expect((await post({ 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await fetch(`${uiBase}/rotor-codec/logout`, { headers: { 'sec-fetch-site': 'same-site' } })).status).toBe(403);
  });

  it('answers only to its own host names (a DNS-rebinding page sends its own name as Host)', async () => {
    const asHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: stack.file.ports.temporalUi, path: '/api/v1/settings', headers: { host } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.once('error', reject);
        req.end();
      });
    expect(await asHost('attacker.example')).toBe(421);
    expect(await asHost(`attacker.example:${stack.file.ports.temporalUi}`)).toBe(421);
    expect(await asHost(`127.0.0.1:${stack.file.ports.temporalUi}`)).toBe(200);
    expect(await asHost(`localhost:${stack.file.ports.temporalUi}`)).toBe(200);
  });
});
