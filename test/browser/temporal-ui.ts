import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/** Debian's Chromium; `npm test` (stack/tools.ts ensureTestTools) installs it with apt-get. */
export const CHROMIUM = '/usr/bin/chromium';

/** The UI is a single-page app that polls: navigation and rendering get generous timeouts. */
const UI_TIMEOUT_MS = 30_000;

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
  async startWorkflow(opts: { workflowId: string; taskQueue: string; workflowType: string; input: unknown }): Promise<void> {
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
    await dialog.getByTestId('update-name').fill(name);
    await fillJson(dialog, dialog.getByTestId('update-name'), input);
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

  async screenshot(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await this.page.screenshot({ path, fullPage: true });
  }
}

async function expectEnabled(button: Locator): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  while (!(await button.isEnabled())) {
    if (Date.now() > deadline) throw new Error('button stayed disabled: a required field is empty or the JSON is invalid');
    await new Promise((r) => setTimeout(r, 100));
  }
}
