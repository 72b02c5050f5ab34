// SDK conformance: drives expbridge's vendor emulators with the vendors' official SDK clients
// (versions pinned in package-lock.json) and checks that every call the adapters make — plus the
// reads around them — succeeds and parses into the SDK's output shapes.
//
// Usage: node conformance.mjs http://127.0.0.1:PORT   (the URL `expbridge emulate` prints)
// Exit status: 0 when every check passes, 1 otherwise. Prints one PASS/FAIL line per check and a
// closing `N passed, M failed` line.
import {
  AppConfigClient,
  GetExperimentDefinitionCommand,
  UpdateExperimentDefinitionCommand,
  ListExperimentDefinitionsCommand,
  StartExperimentRunCommand,
  GetExperimentRunCommand,
  UpdateExperimentRunCommand,
  ListExperimentRunEventsCommand,
  StopExperimentRunCommand,
  DeleteExperimentDefinitionCommand,
} from '@aws-sdk/client-appconfig';
import {
  EvidentlyClient,
  GetFeatureCommand,
  UpdateFeatureCommand,
  GetExperimentCommand,
  UpdateExperimentCommand,
} from '@aws-sdk/client-evidently';
import { Configuration, ExperimentsApi } from 'launchdarkly-api-typescript';

const url = process.argv[2];
if (!url || !/^https?:\/\//.test(url)) {
  console.error('usage: node conformance.mjs http://127.0.0.1:PORT');
  process.exit(2);
}

// The emulators' test credentials (each vendor emulator under adapters/<vendor>/: documented example values).
const AWS = {
  endpoint: url,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  maxAttempts: 1, // a refusal must show, not be retried away
};
const LD_TOKEN = 'api-emulator-token';
const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch';

// Fixture ids (adapters/<vendor>/<vendor>_emulator_fixture.yaml).
const APP = 'abc1234';
const DEF = 'bsxyd7k';
const LD = { project: 'default', environment: 'production', experiment: 'checkout-redesign' };
const EV = { project: 'checkout', feature: 'checkout-redesign', experiment: 'checkout-redesign-exp' };

let passed = 0;
let failed = 0;

class CheckError extends Error {}
function expect(cond, what) {
  if (!cond) throw new CheckError(what);
}

function describeError(e) {
  if (e instanceof CheckError) return e.message;
  if (e?.$metadata) return `${e.name} (HTTP ${e.$metadata.httpStatusCode}): ${e.message}`;
  if (e?.isAxiosError || e?.response) {
    const body = e.response?.data === undefined ? '' : ` ${JSON.stringify(e.response.data)}`;
    return `HTTP ${e.response?.status ?? '?'}${body} (${e.message})`;
  }
  return String(e?.stack ?? e);
}

/// Runs one check: `fn` does the call and its assertions; the value it returns is passed on.
async function check(name, fn) {
  try {
    const value = await fn();
    console.log(`PASS ${name}`);
    passed++;
    return value;
  } catch (e) {
    console.log(`FAIL ${name}: ${describeError(e)}`);
    failed++;
    return undefined;
  }
}

/// For calls the vendor refuses: the SDK must raise its typed error with the vendor's status.
async function expectAwsError(promise, name, status) {
  try {
    await promise;
  } catch (e) {
    expect(e?.$metadata, `not an SDK service error: ${describeError(e)}`);
    expect(e.name === name, `error ${e.name} (want ${name}): ${e.message}`);
    expect(e.$metadata.httpStatusCode === status, `HTTP ${e.$metadata.httpStatusCode} (want ${status})`);
    expect(typeof e.message === 'string' && e.message.length > 0, 'no error message parsed');
    return;
  }
  throw new CheckError(`succeeded; want ${name} (${status})`);
}

const isDate = (d) => d instanceof Date && !Number.isNaN(d.getTime());

// ---------------------------------------------------------------------------------------------
// AWS AppConfig (experiments): the adapter's UpdateExperimentDefinition, StartExperimentRun,
// UpdateExperimentRun, StopExperimentRun, DeleteExperimentDefinition, with reads around them.
async function appconfig() {
  const client = new AppConfigClient(AWS);
  const ids = { ApplicationIdentifier: APP, ExperimentDefinitionIdentifier: DEF };

  await check('appconfig GetExperimentDefinition', async () => {
    const out = await client.send(new GetExperimentDefinitionCommand(ids));
    expect(out.$metadata.httpStatusCode === 200, `status ${out.$metadata.httpStatusCode}`);
    expect(out.Id === DEF, `Id ${out.Id}`);
    expect(out.Status === 'IDLE', `Status ${out.Status}`);
    expect(out.FlagKey === 'checkout-redesign', `FlagKey ${out.FlagKey}`);
    expect(out.Control?.FlagValue?.Enabled === false, `Control ${JSON.stringify(out.Control)}`);
    expect(Array.isArray(out.Treatments) && out.Treatments.length === 1, `Treatments ${JSON.stringify(out.Treatments)}`);
    expect(isDate(out.CreatedAt) && isDate(out.UpdatedAt), `CreatedAt/UpdatedAt ${out.CreatedAt}/${out.UpdatedAt}`);
  });

  await check('appconfig refuses a wrong secret (SigV4 verified)', async () => {
    const bad = new AppConfigClient({ ...AWS, credentials: { ...AWS.credentials, secretAccessKey: 'not-the-secret' } });
    try {
      await bad.send(new GetExperimentDefinitionCommand(ids));
    } catch (e) {
      expect(e?.$metadata?.httpStatusCode === 403, `HTTP ${e?.$metadata?.httpStatusCode}: ${describeError(e)} (want 403)`);
      return;
    }
    throw new CheckError('a request signed with the wrong secret succeeded');
  });

  await check('appconfig UpdateExperimentDefinition', async () => {
    const out = await client.send(new UpdateExperimentDefinitionCommand({
      ...ids,
      Hypothesis: 'The two-step checkout raises conversion',
      Control: { Weight: 60, FlagValue: { Enabled: false } },
      Treatments: [{ Weight: 40, Description: 'two-step', FlagValue: { Enabled: true } }],
    }));
    expect(out.Id === DEF, `Id ${out.Id}`);
    expect(out.Hypothesis === 'The two-step checkout raises conversion', `Hypothesis ${out.Hypothesis}`);
    expect(out.Control?.Weight === 60, `Control.Weight ${out.Control?.Weight}`);
    expect(out.Treatments?.[0]?.Weight === 40, `Treatments ${JSON.stringify(out.Treatments)}`);
  });

  await check('appconfig ListExperimentDefinitions', async () => {
    const out = await client.send(new ListExperimentDefinitionsCommand({ ApplicationIdentifier: APP }));
    expect(Array.isArray(out.Items), `Items ${JSON.stringify(out.Items)}`);
    expect(out.Items.some((d) => d.Id === DEF), `no ${DEF} in ${JSON.stringify(out.Items)}`);
  });

  let run;
  await check('appconfig StartExperimentRun', async () => {
    const out = await client.send(new StartExperimentRunCommand({
      ...ids, Description: 'conformance run', ExposurePercentage: 10, Tags: { origin: 'sdk-conformance' },
    }));
    expect(out.$metadata.httpStatusCode === 201, `status ${out.$metadata.httpStatusCode} (want 201)`);
    expect(out.Status === 'RUNNING', `Status ${out.Status}`);
    expect(out.ExposurePercentage === 10, `ExposurePercentage ${out.ExposurePercentage}`);
    expect(Number.isInteger(out.Run) && out.Run >= 1, `Run ${out.Run}`);
    expect(isDate(out.StartedAt), `StartedAt ${out.StartedAt}`);
    run = out.Run;
  });
  run ??= 1;

  await check('appconfig UpdateExperimentDefinition during a run → ConflictException', () =>
    expectAwsError(client.send(new UpdateExperimentDefinitionCommand({ ...ids, Hypothesis: 'too late' })),
      'ConflictException', 409));

  await check('appconfig GetExperimentRun', async () => {
    const out = await client.send(new GetExperimentRunCommand({ ...ids, Run: run }));
    expect(out.Run === run, `Run ${out.Run}`);
    expect(out.Status === 'RUNNING', `Status ${out.Status}`);
    expect(out.ExposurePercentage === 10, `ExposurePercentage ${out.ExposurePercentage}`);
  });

  await check('appconfig UpdateExperimentRun (exposure up)', async () => {
    const out = await client.send(new UpdateExperimentRunCommand({ ...ids, Run: run, ExposurePercentage: 50 }));
    expect(out.Status === 'RUNNING', `Status ${out.Status}`);
    expect(out.ExposurePercentage === 50, `ExposurePercentage ${out.ExposurePercentage}`);
  });

  await check('appconfig UpdateExperimentRun (exposure down) → BadRequestException', () =>
    expectAwsError(client.send(new UpdateExperimentRunCommand({ ...ids, Run: run, ExposurePercentage: 20 })),
      'BadRequestException', 400));

  await check('appconfig ListExperimentRunEvents', async () => {
    const out = await client.send(new ListExperimentRunEventsCommand({ ...ids, Run: run, MaxResults: 50 }));
    expect(Array.isArray(out.Items) && out.Items.length >= 2, `Items ${JSON.stringify(out.Items)}`);
    expect(out.Items.every((i) => typeof i.EventType === 'string' && isDate(i.OccurredAt)),
      `EventType/OccurredAt ${JSON.stringify(out.Items)}`);
  });

  await check('appconfig StopExperimentRun', async () => {
    const out = await client.send(new StopExperimentRunCommand({
      ...ids, Run: run, Result: { ExecutiveSummary: 'two-step wins', ReasonsToLaunch: 'conversion up' },
    }));
    expect(out.Status === 'DONE', `Status ${out.Status}`);
    expect(isDate(out.EndedAt), `EndedAt ${out.EndedAt}`);
    expect(out.Result?.ExecutiveSummary === 'two-step wins', `Result ${JSON.stringify(out.Result)}`);
  });

  await check('appconfig DeleteExperimentDefinition (ARCHIVE)', async () => {
    const out = await client.send(new DeleteExperimentDefinitionCommand({ ...ids, DeleteType: 'ARCHIVE' }));
    expect(out.$metadata.httpStatusCode >= 200 && out.$metadata.httpStatusCode < 300, `status ${out.$metadata.httpStatusCode}`);
    const after = await client.send(new GetExperimentDefinitionCommand(ids));
    expect(after.Status === 'ARCHIVED', `Status after archive ${after.Status}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Amazon CloudWatch Evidently: the adapter's UpdateFeature and UpdateExperiment, with reads.
async function evidently() {
  const client = new EvidentlyClient(AWS);

  await check('evidently GetFeature', async () => {
    const out = await client.send(new GetFeatureCommand({ project: EV.project, feature: EV.feature }));
    const f = out.feature;
    expect(f?.name === EV.feature, `name ${f?.name}`);
    expect(f.defaultVariation === 'control', `defaultVariation ${f.defaultVariation}`);
    expect(f.variations?.length === 2, `variations ${JSON.stringify(f.variations)}`);
    expect(isDate(f.createdTime), `createdTime ${f.createdTime}`);
  });

  await check('evidently UpdateFeature', async () => {
    const out = await client.send(new UpdateFeatureCommand({
      project: EV.project,
      feature: EV.feature,
      addOrUpdateVariations: [
        { name: 'two-step', value: { boolValue: true } },
        { name: 'one-page', value: { boolValue: false } },
      ],
      entityOverrides: { 'qa-user': 'two-step' },
      defaultVariation: 'two-step',
      evaluationStrategy: 'DEFAULT_VARIATION',
      description: 'updated by the SDK conformance test',
    }));
    const f = out.feature;
    expect(f?.defaultVariation === 'two-step', `defaultVariation ${f?.defaultVariation}`);
    expect(f.evaluationStrategy === 'DEFAULT_VARIATION', `evaluationStrategy ${f.evaluationStrategy}`);
    expect(f.entityOverrides?.['qa-user'] === 'two-step', `entityOverrides ${JSON.stringify(f.entityOverrides)}`);
    expect(f.variations?.some((v) => v.name === 'one-page'), `variations ${JSON.stringify(f.variations)}`);
    expect(isDate(f.lastUpdatedTime), `lastUpdatedTime ${f.lastUpdatedTime}`);
  });

  await check('evidently GetExperiment', async () => {
    const out = await client.send(new GetExperimentCommand({ project: EV.project, experiment: EV.experiment }));
    const x = out.experiment;
    expect(x?.name === EV.experiment, `name ${x?.name}`);
    expect(x.status === 'CREATED', `status ${x.status}`);
    expect(x.samplingRate === 10000, `samplingRate ${x.samplingRate}`);
    expect(x.treatments?.length === 2, `treatments ${JSON.stringify(x.treatments)}`);
  });

  await check('evidently UpdateExperiment (samplingRate)', async () => {
    const out = await client.send(new UpdateExperimentCommand({
      project: EV.project, experiment: EV.experiment, samplingRate: 50000,
    }));
    expect(out.experiment?.samplingRate === 50000, `samplingRate ${out.experiment?.samplingRate}`);
    expect(isDate(out.experiment.lastUpdatedTime), `lastUpdatedTime ${out.experiment.lastUpdatedTime}`);
  });

  await check('evidently GetFeature of an unknown feature → ResourceNotFoundException', () =>
    expectAwsError(client.send(new GetFeatureCommand({ project: EV.project, feature: 'no-such-feature' })),
      'ResourceNotFoundException', 404));
}

// ---------------------------------------------------------------------------------------------
// LaunchDarkly: the adapter's PatchExperiment (semantic patch), with a read.
async function launchdarkly() {
  const api = new ExperimentsApi(new Configuration({ basePath: url, apiKey: LD_TOKEN }));
  const semantic = { headers: { 'Content-Type': SEMANTIC_PATCH } };
  const patch = (instructions, options = semantic) =>
    api.patchExperiment(LD.project, LD.environment, LD.experiment, { instructions }, options);

  await check('launchdarkly getExperiment', async () => {
    const { status, data } = await api.getExperiment(LD.project, LD.environment, LD.experiment);
    expect(status === 200, `status ${status}`);
    expect(data.key === LD.experiment, `key ${data.key}`);
    expect(typeof data._id === 'string' && typeof data.name === 'string', `_id/name ${data._id}/${data.name}`);
    expect(typeof data._creationDate === 'number', `_creationDate ${data._creationDate}`);
    expect(data.currentIteration || data.draftIteration || data.previousIterations, 'no iteration in the body');
  });

  await check('launchdarkly patchExperiment updateName + updateDescription (semantic patch)', async () => {
    const { status, data } = await patch([
      { kind: 'updateName', value: 'Checkout redesign (SDK)' },
      { kind: 'updateDescription', value: 'Renamed by the SDK conformance test' },
    ]);
    expect(status === 200, `status ${status}`);
    expect(data.name === 'Checkout redesign (SDK)', `name ${data.name}`);
    expect(data.description === 'Renamed by the SDK conformance test', `description ${data.description}`);
  });

  await check('launchdarkly patchExperiment archiveExperiment (semantic patch)', async () => {
    const { data } = await patch([{ kind: 'archiveExperiment' }]);
    expect(typeof data.archivedDate === 'number', `archivedDate ${data.archivedDate}`);
  });

  await check('launchdarkly patchExperiment restoreExperiment (semantic patch)', async () => {
    const { data } = await patch([{ kind: 'restoreExperiment' }]);
    expect(data.archivedDate === undefined || data.archivedDate === null, `archivedDate ${data.archivedDate}`);
  });

  await check('launchdarkly patchExperiment with the client default application/json → 400', async () => {
    try {
      await patch([{ kind: 'updateName', value: 'must not apply' }], {});
    } catch (e) {
      expect(e.response?.status === 400, `status ${e.response?.status ?? e.message} (want 400)`);
      expect(typeof e.response.data?.code === 'string' && typeof e.response.data?.message === 'string',
        `error body ${JSON.stringify(e.response.data)} (want {code, message})`);
      const { data } = await api.getExperiment(LD.project, LD.environment, LD.experiment);
      expect(data.name === 'Checkout redesign (SDK)', `refused patch changed name to ${data.name}`);
      return;
    }
    throw new CheckError('plain application/json patch succeeded (the vendor answers 400)');
  });

  await check('launchdarkly getExperiment with a wrong token → 401', async () => {
    const bad = new ExperimentsApi(new Configuration({ basePath: url, apiKey: 'api-wrong-token' }));
    try {
      await bad.getExperiment(LD.project, LD.environment, LD.experiment);
    } catch (e) {
      expect(e.response?.status === 401, `status ${e.response?.status ?? e.message} (want 401)`);
      return;
    }
    throw new CheckError('a wrong token was accepted');
  });
}

// Start from the fixture state, so the test also runs against a long-lived `expbridge emulate`.
try {
  const reset = await fetch(`${url}/_emulator/reset`, { method: 'POST' });
  if (!reset.ok) throw new Error(`HTTP ${reset.status}`);
} catch (e) {
  console.log(`FAIL emulator reset (POST /_emulator/reset): ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

for (const [vendor, run] of [['appconfig', appconfig], ['evidently', evidently], ['launchdarkly', launchdarkly]]) {
  try {
    await run();
  } catch (e) {
    console.log(`FAIL ${vendor}: aborted: ${describeError(e)}`);
    failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
