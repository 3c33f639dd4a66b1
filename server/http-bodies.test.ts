import { afterAll, beforeAll, expect, it } from 'vitest';
import { postJson } from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

let relay: TestRelay;
const accountsUrl = () => `${relay.url}/api/accounts`;

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
});

/** Posts `body` with the given Content-Type header, or none. */
async function postWithType(body: string, contentType?: string) {
  const headers: Record<string, string> = {};
  if (contentType !== undefined) headers['content-type'] = contentType;
  // Bytes, unlike a string, make fetch send no Content-Type of its own.
  const response = await fetch(accountsUrl(), {
    method: 'POST',
    headers,
    body: new TextEncoder().encode(body),
  });
  return { status: response.status, body: await response.json() };
}

it.each([
  ['null', 'null'],
  ['42', 'number'],
  ['"alice"', 'string'],
  ['true', 'boolean'],
])('rejects a JSON %s body', async (body, jsonType) => {
  const response = await postJson(accountsUrl(), body);
  expect(response.status).toBe(400);
  expect(response.body).toEqual({
    code: 'invalid-request',
    message: `Invalid request: the body must be a JSON object, received ${jsonType}.`,
  });
});

it('rejects malformed JSON as invalid', async () => {
  const response = await postJson(accountsUrl(), '{"a":');
  expect(response.status).toBe(400);
  expect(response.body).toEqual({
    code: 'invalid-request',
    message: 'Invalid request: the body is not valid JSON.',
  });
});

it('rejects a text/plain body', async () => {
  const response = await postWithType('{}', 'text/plain');
  expect(response.status).toBe(400);
  expect(response.body).toEqual({
    code: 'invalid-request',
    message:
      'Invalid request: expected Content-Type: application/json, received "text/plain". Send the body as a JSON object.',
  });
});

it('rejects a missing Content-Type', async () => {
  const response = await postWithType('{}');
  expect(response.status).toBe(400);
  expect(response.body).toEqual({
    code: 'invalid-request',
    message:
      'Invalid request: expected Content-Type: application/json, received none. Send the body as a JSON object.',
  });
});

it('parses JSON with a charset parameter', async () => {
  const response = await postWithType('{}', 'application/json; charset=utf-8');
  expect(response.status).toBe(400);
  expect(response.body).toMatchObject({
    code: 'invalid-request',
    message: expect.stringContaining('certificate'),
  });
});
