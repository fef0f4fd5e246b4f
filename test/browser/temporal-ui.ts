import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/** Debian's Chromium; `npm test` (stack/tools.ts ensureTestTools) installs it with apt-get. */
export const CHROMIUM = '/usr/bin/chromium';

/** The UI is a single-page app that polls: navigation and rendering get generous timeouts. */
const UI_TIMEOUT_MS = 30_000;

/**
 * Runs `body` on a fresh browser profile (no cookie) opened at the UI; on failure the page is saved
 * to `screenshot` before the error is rethrown.
 */
export async function withFreshUi(
  browser: Browser,
  uiBase: string,
  screenshot: string,
  body: (ui: TemporalUi, page: Page) => Promise<void>,
): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const ui = new TemporalUi(page, uiBase);
  try {
    await body(ui, page);
  } catch (err) {
    await ui.screenshot(screenshot).then(
      () => console.error(`UI at the time of failure: ${screenshot} (${page.url()})`),
      () => undefined,
    );
    throw err;
  } finally {
    await context.close();
  }
}

export async function launchChromium(): Promise<Browser> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM} is missing: run \`npm run stack -- test-tools\` (apt-get install chromium) first`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The JSON editor (CodeMirror) of a form or dialog. */
function jsonEditor(scope: Page | Locator): Locator {
  return scope.locator('[role="textbox"][data-language="json"]').filter({ visible: true });
}

/**
 * Types JSON into a CodeMirror editor, then moves focus away so the editor reformats now.
 * The editor pretty-prints on blur and grows, so a click that itself blurs it would land on
 * the spot the button just left and be lost.
 */
async function fillJson(scope: Page | Locator, blurTarget: Locator, value: unknown): Promise<void> {
  const editor = jsonEditor(scope);
  await editor.fill(JSON.stringify(value));
  await blurTarget.click();
  await expectJson(editor, value);
}

async function expectJson(editor: Locator, value: unknown): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const text = await editor.innerText();
    try {
      if (JSON.stringify(JSON.parse(text)) === JSON.stringify(value)) return;
    } catch {
      // not JSON yet
    }
    if (Date.now() > deadline) throw new Error(`JSON editor holds ${JSON.stringify(text)}, expected ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface StartWorkflowForm {
  workflowId: string;
  taskQueue: string;
  workflowType: string;
  input: unknown;
}

/** Drives the Temporal Web UI (v2.4x, as bundled with the Temporal CLI dev server). */
export class TemporalUi {
  constructor(
    readonly page: Page,
    readonly baseUrl: string,
    readonly namespace = 'default',
  ) {
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
  }

  /** Fills "Start a Workflow" (Workflows → Start Workflow) and submits it; resolves once the server accepted it. */
  async startWorkflow(opts: StartWorkflowForm): Promise<void> {
    const { page } = this;
    const button = await this.fillStartWorkflow(opts);
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) =>
          r.request().method() === 'POST' &&
          r.url().includes(`/api/v1/namespaces/${this.namespace}/workflows/${encodeURIComponent(opts.workflowId)}`),
      ),
      button.click(),
    ]);
    if (!response.ok()) throw new Error(`the UI's start request failed: HTTP ${response.status()} ${await response.text()}`);
    await page.getByText('Workflow started successfully').waitFor();
  }

  /** Fills "Start a Workflow" and resolves with its Start button, enabled and not yet clicked. */
  async fillStartWorkflow(opts: StartWorkflowForm): Promise<Locator> {
    const { page } = this;
    await page.goto(`${this.baseUrl}/namespaces/${this.namespace}/workflows/start-workflow`, { waitUntil: 'load' });
    const heading = page.getByTestId('start-workflow');
    await heading.waitFor();
    await page.getByTestId('workflowId').fill(opts.workflowId);
    await page.getByTestId('taskQueue').fill(opts.taskQueue);
    await page.getByTestId('workflowType').fill(opts.workflowType);
    await fillJson(page, heading, opts.input);
    await page.locator('input[type="radio"][value="json/plain"]').check();
    const button = page.getByTestId('start-workflow-button');
    await expectEnabled(button);
    return button;
  }

  /** Opens a workflow's page (its latest run) and waits until its actions are shown. */
  async openWorkflow(workflowId: string): Promise<void> {
    await this.page.goto(`${this.baseUrl}/namespaces/${this.namespace}/workflows/${encodeURIComponent(workflowId)}`, {
      waitUntil: 'load',
    });
    await this.page.getByRole('button', { name: 'More Actions' }).filter({ visible: true }).waitFor();
  }

  /** The status badge text on an open workflow page (Running, Completed, Failed, ...). */
  async waitForStatus(status: string): Promise<void> {
    await this.page.getByText(status, { exact: true }).filter({ visible: true }).first().waitFor();
  }

  /**
   * Workflow page → More Actions → "Send an Update": Name, Data (one JSON payload), Submit. Resolves with the
   * update's outcome once the server answered: a validator's rejection comes back as `failure` (HTTP 200) and
   * the dialog stays open showing it; an accepted update closes the dialog with "Update successful".
   */
  async sendUpdate(workflowId: string, name: string, input: unknown): Promise<{ failure?: string }> {
    const { page } = this;
    await this.openWorkflow(workflowId);
    await page.getByRole('button', { name: 'More Actions' }).filter({ visible: true }).click();
    await page.getByTestId('update-button').filter({ visible: true }).click();
    const dialog = page.locator('dialog[open][data-testid="update-confirmation-modal"]');
    await dialog.waitFor();
    await chooseUpdate(dialog, name);
    await fillJson(dialog, dialog.locator('#update-id'), input);
    const submit = dialog.getByTestId('confirm-modal-button');
    await expectEnabled(submit);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(`/update/${encodeURIComponent(name)}`)),
      submit.click(),
    ]);
    if (!response.ok()) throw new Error(`the UI's update request failed: HTTP ${response.status()} ${await response.text()}`);
    const body = (await response.json()) as { outcome?: { failure?: { message?: string } } };
    const failure = body.outcome?.failure;
    if (failure) {
      // What the person sees: the validator's message inside the still-open dialog.
      await dialog
        .getByText(failure.message ?? '', { exact: true })
        .first()
        .waitFor();
      return { failure: failure.message ?? JSON.stringify(failure) };
    }
    await page.getByText('Update successful').waitFor();
    return {};
  }

  /** Visits the codec's login (`<ui>/rotor-codec/login?token=…`, as a person pasting the URL); resolves with the HTTP status. */
  async codecLogin(token: string): Promise<number> {
    const response = await this.page.goto(`${this.baseUrl}/rotor-codec/login?token=${encodeURIComponent(token)}`);
    return response?.status() ?? 0;
  }

  async codecLogout(): Promise<number> {
    const response = await this.page.goto(`${this.baseUrl}/rotor-codec/logout`);
    return response?.status() ?? 0;
  }

  /**
   * Opens a workflow's page and resolves once the UI asked the codec to decode its payloads, with
   * the codec's HTTP status: 401 for a browser without the login, 200 once logged in.
   */
  async openWorkflowDecoding(workflowId: string): Promise<number> {
    const [decode] = await Promise.all([
      this.page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/rotor-codec/decode'),
      this.openWorkflow(workflowId),
    ]);
    return decode.status();
  }

  /** The "Input and Results" card's text: the workflow's input and result as the UI renders them. */
  async inputAndResults(): Promise<string> {
    const card = this.page.getByTestId('input-and-result');
    await card.waitFor();
    return card.innerText();
  }

  async openQueriesTab(): Promise<void> {
    await this.page.getByTestId('queries-tab').filter({ visible: true }).first().click();
    await this.page.waitForURL(/\/query$/);
  }

  /** Workflow page → Queries tab → the named query → its result as the UI shows it. */
  async query(name: string): Promise<string> {
    const { page } = this;
    await this.openQueriesTab();
    const select = page.getByTestId('query-select');
    await select.waitFor({ state: 'attached' });
    // The UI preselects the workflow's first query and disables the select when it has only one.
    const selected = await select.inputValue();
    if (selected !== name) throw new Error(`the Queries tab offers ${JSON.stringify(selected)} first, not ${name}: pick it in the select`);
    await page.getByRole('button', { name: 'Run Query' }).click();
    const result = page.getByTestId('query-result');
    await result.waitFor();
    return result.innerText();
  }

  async screenshot(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await this.page.screenshot({ path, fullPage: true });
  }
}

/**
 * The update's name: a text box when the UI cannot read the workflow's update definitions, a select of
 * them when it can (its codec decoded the workflow's metadata query, i.e. the browser logged in to it).
 */
async function chooseUpdate(dialog: Locator, name: string): Promise<void> {
  const text = dialog.getByTestId('update-name');
  const select = dialog.getByTestId('update-select');
  await text.or(select).first().waitFor({ state: 'attached' });
  if (!(await select.count())) return text.fill(name);
  // The select's input is a disabled display; its menu button opens the list.
  await dialog.locator('[aria-controls="update-select-select"]').click();
  await dialog.page().getByRole('listbox').getByRole('option').filter({ hasText: name }).first().click();
  const deadline = Date.now() + 5_000;
  while ((await select.inputValue()) !== name) {
    if (Date.now() > deadline) throw new Error(`the update select holds ${JSON.stringify(await select.inputValue())}, not ${name}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectEnabled(button: Locator): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  while (!(await button.isEnabled())) {
    if (Date.now() > deadline) throw new Error('button stayed disabled: a required field is empty or the JSON is invalid');
    await new Promise((r) => setTimeout(r, 100));
  }
}
