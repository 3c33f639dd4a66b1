// Rebuilds the vector files in this folder from checkouts of their sources.
//
//   node shared/crypto/vectors/extract.mjs <wycheproof> <acvp-vectors>
//
// <wycheproof> is a checkout of github.com/C2SP/wycheproof and
// <acvp-vectors> one of github.com/paulmillr/acvp-vectors (a mirror of the
// NIST ACVP-Server JSON files). README.md names the commits in use.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const [wycheproofDir, acvpDir] = process.argv.slice(2);
if (!wycheproofDir || !acvpDir) {
  throw new Error('usage: extract.mjs <wycheproof-dir> <acvp-vectors-dir>');
}
const vectorsDir = new URL('.', import.meta.url).pathname;

// Whole files: every group in them is one the primitives wrapper can run.
for (const name of [
  'x25519_test.json',
  'ed25519_test.json',
  'hkdf_sha256_test.json',
  'hmac_sha256_test.json',
]) {
  copyFileSync(
    join(wycheproofDir, 'testvectors_v1', name),
    join(vectorsDir, 'wycheproof', name),
  );
}

// AES-GCM: the wrapper takes only 256-bit keys, 96-bit IVs and 128-bit tags.
// The empty-IV group stays so that the wrapper's IV check is exercised.
const aesGcm = JSON.parse(
  readFileSync(join(wycheproofDir, 'testvectors_v1', 'aes_gcm_test.json')),
);
aesGcm.testGroups = aesGcm.testGroups.filter(
  (group) =>
    group.keySize === 256 &&
    group.tagSize === 128 &&
    (group.ivSize === 96 || group.ivSize === 0),
);
aesGcm.numberOfTests = aesGcm.testGroups.reduce(
  (sum, group) => sum + group.tests.length,
  0,
);
writeFileSync(
  join(vectorsDir, 'wycheproof', 'aes_gcm_test.json'),
  JSON.stringify(aesGcm, null, 2) + '\n',
);

// ACVP splits each test into prompt, expected results and the internal
// projection (which names the reason for each validation case). The
// ML-KEM-768 groups are merged here, one object per test.
function acvp(set, part) {
  const path = join(acvpDir, 'acvp', set, `${part}.json.gz`);
  return JSON.parse(gunzipSync(readFileSync(path)));
}

function mergeGroups(set, keep) {
  const prompt = acvp(set, 'prompt');
  const results = acvp(set, 'expectedResults');
  const projection = acvp(set, 'internalProjection');
  const groups = {};
  for (const group of prompt.testGroups) {
    if (group.parameterSet !== 'ML-KEM-768') continue;
    const name = group.function ?? 'keyGen';
    const fields = keep[name];
    const byId = (source) =>
      new Map(
        source.testGroups
          .find((other) => other.tgId === group.tgId)
          .tests.map((test) => [test.tcId, test]),
      );
    const expected = byId(results);
    const internal = byId(projection);
    groups[name] = {
      tgId: group.tgId,
      testType: group.testType,
      tests: group.tests.map((test) => {
        const all = {
          ...internal.get(test.tcId),
          ...test,
          ...expected.get(test.tcId),
        };
        return Object.fromEntries(fields.map((field) => [field, all[field]]));
      }),
    };
  }
  return { vsId: prompt.vsId, revision: prompt.revision, groups };
}

const keyGen = mergeGroups('ML-KEM-keyGen-FIPS203', {
  keyGen: ['tcId', 'd', 'z', 'ek', 'dk'],
});
const encapDecap = mergeGroups('ML-KEM-encapDecap-FIPS203', {
  encapsulation: ['tcId', 'ek', 'm', 'c', 'k'],
  decapsulation: ['tcId', 'reason', 'dk', 'c', 'k'],
  encapsulationKeyCheck: ['tcId', 'reason', 'testPassed', 'ek'],
  decapsulationKeyCheck: ['tcId', 'reason', 'testPassed', 'dk'],
});
writeFileSync(
  join(vectorsDir, 'acvp', 'ml_kem_768.json'),
  JSON.stringify(
    {
      algorithm: 'ML-KEM',
      revision: keyGen.revision,
      parameterSet: 'ML-KEM-768',
      vsId: { keyGen: keyGen.vsId, encapDecap: encapDecap.vsId },
      ...keyGen.groups,
      ...encapDecap.groups,
    },
    null,
    2,
  ) + '\n',
);
