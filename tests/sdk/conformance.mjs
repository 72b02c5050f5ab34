// SDK conformance: drives expbridge's vendor emulators with the vendors' official SDK clients
// (versions pinned in package-lock.json) and checks that every call the adapters make — writes
// and reads — succeeds, parses into the SDK's output shapes and holds what the fixture says.
// Auth0 is not here: its Experiment Center operations are beta and not generated into the
// official `auth0` SDK, so there is no official client to drive them with.
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
  ListExperimentRunsCommand,
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
import { Configuration, ExperimentsApi, FeatureFlagsApi } from 'launchdarkly-api-typescript';

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
const LD = {
  project: 'default', environment: 'production', experiment: 'checkout-redesign', flag: 'checkout-redesign',
  control: '6a1f0e2c-0c4b-4a8e-9d51-0000000000c0', twoStep: '6a1f0e2c-0c4b-4a8e-9d51-0000000000t1',
  rule: '5c9e2d1a-7b3f-4e8a-9c6d-00000000r001', flagConfigVersion: 7,
};
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
// UpdateExperimentRun, StopExperimentRun, DeleteExperimentDefinition, and its reads
// (GetExperimentDefinition, ListExperimentRuns page by page, GetExperimentRun).
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

  await check('appconfig ListExperimentRuns (every page, MaxResults 1) finds the RUNNING run', async () => {
    // A second run: stop the first, start another, so the list has two pages.
    await client.send(new StopExperimentRunCommand({ ...ids, Run: run }));
    const second = await client.send(new StartExperimentRunCommand({ ...ids, ExposurePercentage: 10 }));
    run = second.Run;
    const seen = [];
    let token;
    for (let page = 0; page < 10; page++) { // bounded: two pages expected
      const out = await client.send(new ListExperimentRunsCommand({ ...ids, MaxResults: 1, NextToken: token }));
      expect(Array.isArray(out.Items) && out.Items.length <= 1, `Items ${JSON.stringify(out.Items)}`);
      for (const item of out.Items) {
        expect(item.ExperimentDefinitionId === DEF, `ExperimentDefinitionId ${item.ExperimentDefinitionId}`);
        expect(isDate(item.StartedAt), `StartedAt ${item.StartedAt}`);
        seen.push(item);
      }
      token = out.NextToken;
      if (!token) break;
    }
    expect(seen.length === 2, `runs ${JSON.stringify(seen)}`);
    expect(seen[0].Status === 'DONE' && isDate(seen[0].EndedAt), `first run ${JSON.stringify(seen[0])}`);
    const running = seen.filter((r) => r.Status === 'RUNNING');
    expect(running.length === 1 && running[0].Run === run, `RUNNING runs ${JSON.stringify(running)} (want run ${run})`);
    const filtered = await client.send(new ListExperimentRunsCommand({ ...ids, Status: 'RUNNING' }));
    expect(filtered.Items?.length === 1 && filtered.Items[0].Run === run, `Status=RUNNING ${JSON.stringify(filtered.Items)}`);
  });

  await check('appconfig GetExperimentRun of an unknown run → ResourceNotFoundException', () =>
    expectAwsError(client.send(new GetExperimentRunCommand({ ...ids, Run: 99 })), 'ResourceNotFoundException', 404));

  await check('appconfig UpdateExperimentDefinition during a run → ConflictException', () =>
    expectAwsError(client.send(new UpdateExperimentDefinitionCommand({ ...ids, Hypothesis: 'too late' })),
      'ConflictException', 409));

  await check('appconfig GetExperimentRun', async () => {
    const out = await client.send(new GetExperimentRunCommand({ ...ids, Run: run }));
    expect(out.Run === run, `Run ${out.Run}`);
    expect(out.Status === 'RUNNING', `Status ${out.Status}`);
    expect(out.ExposurePercentage === 10, `ExposurePercentage ${out.ExposurePercentage}`);
    const snapshot = out.ExperimentDefinitionSnapshot;
    expect(snapshot?.Id === DEF && snapshot.Control?.Key === 'c' && snapshot.Treatments?.[0]?.Key === 't1',
      `ExperimentDefinitionSnapshot ${JSON.stringify(snapshot)}`);
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
// Amazon CloudWatch Evidently: the adapter's UpdateFeature and UpdateExperiment, and its reads
// (GetFeature, GetExperiment).
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

  await check('evidently GetFeature after the update (typed values, entityOverrides)', async () => {
    const f = (await client.send(new GetFeatureCommand({ project: EV.project, feature: EV.feature }))).feature;
    expect(f.valueType === 'BOOLEAN', `valueType ${f.valueType}`);
    const twoStep = f.variations?.find((v) => v.name === 'two-step');
    expect(twoStep?.value?.boolValue === true, `two-step value ${JSON.stringify(twoStep)}`);
    expect(f.entityOverrides?.['qa-user'] === 'two-step', `entityOverrides ${JSON.stringify(f.entityOverrides)}`);
    expect(Array.isArray(f.evaluationRules), `evaluationRules ${JSON.stringify(f.evaluationRules)}`);
  });

  await check('evidently GetExperiment', async () => {
    const out = await client.send(new GetExperimentCommand({ project: EV.project, experiment: EV.experiment }));
    const x = out.experiment;
    expect(x?.name === EV.experiment, `name ${x?.name}`);
    expect(x.status === 'CREATED', `status ${x.status}`);
    expect(x.samplingRate === 10000, `samplingRate ${x.samplingRate}`);
    expect(x.treatments?.length === 2, `treatments ${JSON.stringify(x.treatments)}`);
    expect(x.treatments.some((t) => t.featureVariations?.[EV.feature] === 'two-step'),
      `featureVariations ${JSON.stringify(x.treatments)}`);
    const ab = x.onlineAbDefinition;
    expect(ab?.controlTreatmentName === 'control', `controlTreatmentName ${ab?.controlTreatmentName}`);
    expect(ab.treatmentWeights?.control === 50000 && ab.treatmentWeights?.['two-step'] === 50000,
      `treatmentWeights ${JSON.stringify(ab.treatmentWeights)}`);
    expect(isDate(x.createdTime), `createdTime ${x.createdTime}`);
  });

  await check('evidently GetExperiment of an unknown experiment → ResourceNotFoundException', () =>
    expectAwsError(client.send(new GetExperimentCommand({ project: EV.project, experiment: 'no-such-experiment' })),
      'ResourceNotFoundException', 404));

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
// LaunchDarkly: the adapter's reads (Get experiment with and without expand, Get feature flag),
// Create iteration built from them, and Patch experiment (semantic patch: the iteration
// lifecycle, names, archive).
async function launchdarkly() {
  const api = new ExperimentsApi(new Configuration({ basePath: url, apiKey: LD_TOKEN }));
  const flags = new FeatureFlagsApi(new Configuration({ basePath: url, apiKey: LD_TOKEN }));
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
    // Without expand: no treatments (so no treatment _ids), no draftIteration.
    expect(data.currentIteration && data.currentIteration.treatments === undefined,
      `currentIteration.treatments without expand ${JSON.stringify(data.currentIteration?.treatments)}`);
    expect(data.draftIteration === undefined, 'draftIteration without expand=draftIteration');
  });

  await check('launchdarkly getExperiment expand=draftIteration,treatments', async () => {
    const { data } = await api.getExperiment(LD.project, LD.environment, LD.experiment, 'draftIteration,treatments');
    const draft = data.draftIteration;
    expect(draft?.status === 'not_started', `draftIteration ${JSON.stringify(draft)}`);
    const ids = (draft.treatments ?? []).map((t) => t._id);
    expect(ids.includes(LD.control) && ids.includes(LD.twoStep), `treatment _ids ${JSON.stringify(ids)}`);
    expect(draft.treatments.every((t) => typeof t.allocationPercent === 'string'), 'allocationPercent is not a string');
    expect(data.currentIteration?.treatments?.length === 2, `currentIteration.treatments ${JSON.stringify(data.currentIteration)}`);
    expect(draft.flags?.[LD.flag]?.flagConfigVersion === LD.flagConfigVersion, `flags ${JSON.stringify(draft.flags)}`);
  });

  let flag;
  await check('launchdarkly getFeatureFlag (variations, version, rules)', async () => {
    const { status, data } = await flags.getFeatureFlag(LD.project, LD.flag, LD.environment);
    expect(status === 200, `status ${status}`);
    expect(data.key === LD.flag && typeof data._version === 'number', `key/_version ${data.key}/${data._version}`);
    const byId = Object.fromEntries((data.variations ?? []).map((v) => [v._id, v]));
    // A JSON flag: the sample's two-step arm carries typed attributes.
    expect(byId[LD.control]?.value?.enabled === false && byId[LD.control]?.name === 'control', `control ${JSON.stringify(byId[LD.control])}`);
    expect(byId[LD.twoStep]?.value?.enabled === true && byId[LD.twoStep]?.value?.steps === 2 &&
           byId[LD.twoStep]?.name === 'two-step', `two-step ${JSON.stringify(byId[LD.twoStep])}`);
    const env = data.environments?.[LD.environment];
    expect(env?.version === LD.flagConfigVersion && env.on === true, `environments.${LD.environment} ${JSON.stringify(env)}`);
    expect(env.rules?.some((r) => r._id === LD.rule), `rules ${JSON.stringify(env.rules)}`);
    flag = data;
  });

  await check('launchdarkly getFeatureFlag of an unknown flag → 404', async () => {
    try {
      await flags.getFeatureFlag(LD.project, 'no-such-flag');
    } catch (e) {
      expect(e.response?.status === 404, `status ${e.response?.status ?? e.message} (want 404)`);
      expect(e.response.data?.code === 'not_found', `error body ${JSON.stringify(e.response.data)}`);
      return;
    }
    throw new CheckError('an unknown flag was found');
  });

  await check('launchdarkly patchExperiment startIteration (the draft, no justification needed)', async () => {
    const { data } = await patch([{ kind: 'startIteration' }]);
    expect(data.currentIteration?.status === 'running', `currentIteration ${JSON.stringify(data.currentIteration)}`);
  });

  await check('launchdarkly createIteration from the reads (IterationInput)', async () => {
    const { data: current } = await api.getExperiment(LD.project, LD.environment, LD.experiment, 'treatments');
    const it = current.currentIteration;
    const env = flag?.environments?.[LD.environment];
    const input = {
      hypothesis: 'Two steps win at 70%',
      metrics: (it.metrics ?? []).map((m) => ({ key: m.key, isGroup: m.isGroup })),
      primarySingleMetricKey: it.primarySingleMetric?.key,
      randomizationUnit: it.randomizationUnit,
      // The experiment's two arms; the flag's third variation (one-step) takes no part.
      treatments: (flag?.variations ?? []).filter((v) => v._id === LD.control || v._id === LD.twoStep).map((v) => ({
        name: v.name, baseline: v.name === 'control', allocationPercent: v.name === 'control' ? '30' : '70',
        parameters: [{ flagKey: LD.flag, variationId: v._id }],
      })),
      flags: { [LD.flag]: { ruleId: 'fallthrough', flagConfigVersion: env?.version } },
    };
    const { status, data } = await api.createIteration(LD.project, LD.environment, LD.experiment, input);
    expect(status === 200, `status ${status} (want 200)`);
    expect(data.status === 'not_started' && data.hypothesis === input.hypothesis, `iteration ${JSON.stringify(data)}`);
  });

  await check('launchdarkly startIteration while running without changeJustification → 400', async () => {
    try {
      await patch([{ kind: 'startIteration' }]);
    } catch (e) {
      expect(e.response?.status === 400, `status ${e.response?.status ?? e.message} (want 400)`);
      return;
    }
    throw new CheckError('a second start without changeJustification succeeded');
  });

  await check('launchdarkly patchExperiment startIteration with changeJustification', async () => {
    const { data } = await patch([{ kind: 'startIteration', changeJustification: '70/30 split' }]);
    expect(data.currentIteration?.hypothesis === 'Two steps win at 70%', `currentIteration ${JSON.stringify(data.currentIteration)}`);
  });

  await check('launchdarkly patchExperiment stopIteration with the winner', async () => {
    const { data: current } = await api.getExperiment(LD.project, LD.environment, LD.experiment, 'treatments');
    const winner = current.currentIteration?.treatments?.find((t) => t.name === 'two-step');
    expect(winner?._id === LD.twoStep, `two-step treatment ${JSON.stringify(winner)}`);
    const { data } = await patch([{ kind: 'stopIteration', winningTreatmentId: winner._id, winningReason: 'conversion up' }]);
    const it = data.currentIteration;
    expect(it?.status === 'stopped' && it.winningTreatmentId === LD.twoStep && it.winningReason === 'conversion up',
      `currentIteration ${JSON.stringify(it)}`);
    expect(typeof it.endedAt === 'number', `endedAt ${it.endedAt}`);
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
