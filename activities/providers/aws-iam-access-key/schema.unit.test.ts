import { describe, expect, it } from 'vitest';
import { awsFailure, isRefusedKey, isTransient } from './aws-errors.js';
import { iamCredential, iamSpec, iamTraits } from './schema.js';

const base = { type: 'aws-iam-access-key', adminPath: '_rotor/admin/demo-iam', userName: 'demo-app' };
const problems = (input: unknown) => {
  const parsed = iamSpec.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('the aws-iam-access-key inventory entry', () => {
  it('talks to AWS in us-east-1 and deletes no inactive key unless told', () => {
    expect(iamSpec.parse(base)).toEqual({ ...base, region: 'us-east-1', deleteInactiveKey: false });
    expect(iamSpec.parse({ ...base, endpoint: 'http://127.0.0.1:5016', region: 'eu-central-1', deleteInactiveKey: true })).toEqual({
      ...base,
      endpoint: 'http://127.0.0.1:5016',
      region: 'eu-central-1',
      deleteInactiveKey: true,
    });
  });

  it('names the missing field and what to put there', () => {
    expect(problems({ type: 'aws-iam-access-key' })).toEqual([
      'adminPath: adminPath is required: the KV path of the admin access key, e.g. "_rotor/admin/demo-iam"',
      'userName: userName is required: the IAM user whose access keys rotate, e.g. "demo-app"',
    ]);
  });

  it('rejects a name IAM would reject, a non-http endpoint, a bad region and a non-boolean flag, each by field', () => {
    expect(problems({ ...base, userName: 'demo app/1' })).toEqual([
      'userName: an IAM user name: 1-64 letters, digits or +=,.@_- (e.g. "demo-app")',
    ]);
    expect(problems({ ...base, userName: 'x'.repeat(65) })).toHaveLength(1);
    expect(problems({ ...base, endpoint: 'ftp://iam.local' })).toEqual([
      'endpoint: endpoint must be an http(s) URL such as "https://iam.example.internal" or "http://127.0.0.1:5016", or left out for AWS',
    ]);
    expect(problems({ ...base, endpoint: 'not a url' })).toHaveLength(1);
    expect(problems({ ...base, region: 'US East' })).toEqual(['region: an AWS region name such as "us-east-1"']);
    expect(problems({ ...base, deleteInactiveKey: 'yes' })).toEqual(['deleteInactiveKey: deleteInactiveKey must be true or false']);
  });

  it('allows plain http: only to a loopback host: the CreateAccessKey answer carries the new secret', () => {
    const plain = [
      'endpoint: provider.endpoint must use https: - CreateAccessKey answers with the new secret access key, which plain http: ' +
        'would send in clear; http: is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), e.g. "http://127.0.0.1:5016"',
    ];
    for (const endpoint of [
      'http://iam.example.internal',
      'http://10.0.0.5:5016',
      'http://128.0.0.1',
      'http://[::2]:5016',
      'http://localhost.evil.example',
    ]) {
      expect(problems({ ...base, endpoint }), endpoint).toEqual(plain);
    }
    for (const endpoint of [
      'https://iam.example.internal',
      'https://10.0.0.5:5016',
      'http://127.0.0.1:5016',
      'http://127.9.8.7',
      'http://127.1:5016',
      'http://[::1]:5016',
      'http://localhost:5016',
      'HTTP://LOCALHOST:5016',
    ]) {
      expect(problems({ ...base, endpoint }), endpoint).toEqual([]);
    }
  });

  it('rejects an unknown field (a typo is never ignored)', () => {
    const issues = iamSpec.safeParse({ ...base, deleteInactiveKeys: true }).error?.issues ?? [];
    expect(issues).toHaveLength(1);
    expect(issues[0]?.code).toBe('unrecognized_keys');
    expect(JSON.stringify(issues[0])).toContain('deleteInactiveKeys');
  });

  it('needs only its admin credential in Vault', () => {
    const spec = iamSpec.parse(base);
    expect(iamTraits.secretRules(spec, { kvMount: 'rotor', secretId: 'demo-iam', safe: (_f, v) => v })).toEqual([
      { path: 'rotor/data/_rotor/admin/demo-iam', capabilities: ['read'], why: 'demo-iam: admin credential' },
    ]);
    expect(iamTraits.sessions).toBeUndefined();
    expect(iamTraits.breakGlass).toBeUndefined();
  });
});

describe('the aws-iam-access-key credential', () => {
  it('holds the key, its secret and its user; extra string fields are kept', () => {
    const cred = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 's3cr3t-value', userName: 'demo-app', region: 'us-east-1' };
    expect(iamCredential.parse(cred)).toEqual(cred);
    expect(iamCredential.safeParse({ accessKeyId: 'AKIAEXAMPLE', userName: 'demo-app' }).error?.issues[0]?.path).toEqual([
      'secretAccessKey',
    ]);
  });
});

describe('AWS SDK errors', () => {
  it('keep the code and status, never a secret', () => {
    const err = Object.assign(new Error('signature for wJalrXUtnFEMI/K7MDENG was wrong'), {
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    const f = awsFailure(err, ['wJalrXUtnFEMI/K7MDENG']);
    expect(f).toEqual({ code: 'SignatureDoesNotMatch', status: 403, message: 'signature for [redacted] was wrong' });
    expect(isRefusedKey(f)).toBe(true);
    expect(isTransient(f)).toBe(false);
  });

  it('strip "Exception" from modelled errors and treat no answer or a 5xx as transient', () => {
    expect(awsFailure(Object.assign(new Error('x'), { name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } }), []).code).toBe(
      'NoSuchEntity',
    );
    expect(isTransient(awsFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), []))).toBe(true);
    expect(
      isTransient(awsFailure(Object.assign(new Error('boom'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }), [])),
    ).toBe(true);
  });
});
