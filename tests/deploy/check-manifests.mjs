// Checks rendered deploy/ manifests (kubectl kustomize output):
//  1. every object against the Kubernetes OpenAPI schema (kubernetes-models: the schema of the
//     Kubernetes 1.32 API compiled into validators; types, enums, formats, required fields —
//     like the schema itself, it does not reject field names it does not define);
//  2. what deploy/README.md promises of the deployment.
// Usage: node check-manifests.mjs --version X.Y.Z --replicas N --driver D FILE
import { readFileSync } from "node:fs";
import { parseAllDocuments, parse } from "yaml";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= args.length) throw new Error(`missing --${name}`);
  return args.splice(i, 2)[1];
};
const version = option("version");
const replicas = Number(option("replicas"));
const driver = option("driver");
const [file] = args;

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

const documents = parseAllDocuments(readFileSync(file, "utf8"));
const objects = [];
for (const document of documents) {
  if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
  const object = document.toJS();
  if (object !== null) objects.push(object);
}
check(objects.length > 0, "no objects rendered");

// 1. The schema: the model of the object's apiVersion and kind, e.g. kubernetes-models/apps/v1/StatefulSet.
for (const object of objects) {
  const name = `${object.kind} ${object.metadata?.name}`;
  const [group, apiVersion] = object.apiVersion.includes("/")
    ? object.apiVersion.split("/")
    : [null, object.apiVersion];
  const path = `kubernetes-models/${group ? `${group}/` : ""}${apiVersion}/${object.kind}`;
  let Model;
  try {
    ({ [object.kind]: Model } = await import(path));
  } catch {
    failures.push(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`schema ok: ${object.apiVersion} ${name}`);
  } catch (error) {
    failures.push(`${name}: ${error.message}`);
  }
}

// 2. The deployment.
const byKind = (kind) => objects.filter((o) => o.kind === kind);
const [set] = byKind("StatefulSet");
const [service] = byKind("Service");
const [budget] = byKind("PodDisruptionBudget");
const [configMap] = byKind("ConfigMap");
check(set && service && budget && configMap, "a StatefulSet, a Service, a PodDisruptionBudget and a ConfigMap");
if (failures.length === 0) {
  const spec = set.spec;
  const pod = spec.template.spec;
  const container = pod.containers.find((c) => c.name === "telemetry-processor");
  const labels = spec.template.metadata.labels;
  const selects = (selector) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);
  const seconds = (duration) => {
    const match = /^(\d+)(ms|s|m|h)$/.exec(String(duration));
    if (!match) throw new Error(`duration '${duration}'`);
    return Number(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2]];
  };

  check(spec.replicas === replicas, `StatefulSet replicas ${spec.replicas}, expected ${replicas}`);
  check(container.image === `telemetry-processor:${version}`,
        `image ${container.image}, expected telemetry-processor:${version} (CMakeLists.txt)`);
  check(set.metadata.namespace, "the StatefulSet has no namespace");
  for (const o of objects) {
    check(o.metadata.namespace === set.metadata.namespace, `${o.kind} ${o.metadata.name} not in ${set.metadata.namespace}`);
  }

  // /data from the claim template.
  const claim = spec.volumeClaimTemplates?.find((t) => t.metadata.name === "data");
  check(claim, "volumeClaimTemplates has no claim 'data'");
  const dataMount = container.volumeMounts.find((m) => m.mountPath === "/data");
  check(dataMount?.name === "data", "/data is not mounted from the claim 'data'");
  check(!pod.volumes?.some((v) => v.name === "data"), "a pod volume 'data' hides the claim");

  // The Service and the budget select the pods; the set is governed by the Service.
  check(selects(service.spec.selector), "the Service does not select the pods");
  check(service.spec.ports.some((p) => p.port === 8989 && p.targetPort === "http"), "Service port 8989 → http");
  check(spec.serviceName === service.metadata.name, "serviceName is not the Service");
  check(selects(budget.spec.selector.matchLabels), "the PodDisruptionBudget does not select the pods");
  check(budget.spec.maxUnavailable === 1, "PodDisruptionBudget maxUnavailable 1");

  // The configuration the pods read.
  const configVolume = pod.volumes.find((v) => v.configMap);
  check(configVolume?.configMap.name === configMap.metadata.name, "the pods do not mount the ConfigMap");
  const configMount = container.volumeMounts.find((m) => m.name === configVolume?.name);
  check(container.args.includes(`--config=${configMount?.mountPath}/config.yaml`), "--config is not the mounted file");
  const config = parse(configMap.data["config.yaml"]);
  check(config.db.driver === driver, `db.driver ${config.db.driver}, expected ${driver}`);
  check(config.queue.dir.startsWith("/data/"), `queue.dir ${config.queue.dir} is not on the claim`);
  if (driver === "sqlite") check(config.db.path.startsWith("/data/"), `db.path ${config.db.path} is not on the claim`);
  check(pod.terminationGracePeriodSeconds > seconds(config.shutdown.gracePeriod),
        `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} not above shutdown.gracePeriod ${config.shutdown.gracePeriod}`);

  // The database password from the Secret where there is a database server to log in to.
  const password = container.env?.find((e) => e.name === "TP_DB_PASSWORD");
  if (driver === "sqlite") check(!password, "TP_DB_PASSWORD on SQLite");
  else check(password?.valueFrom?.secretKeyRef?.name, "TP_DB_PASSWORD is not from a Secret");

  // Probes, resources, the image's user.
  check(container.livenessProbe?.httpGet?.path === "/healthz", "liveness probe on /healthz");
  check(container.readinessProbe?.httpGet?.path === "/readyz", "readiness probe on /readyz");
  check(container.startupProbe?.httpGet?.path === "/healthz", "startup probe on /healthz");
  check(container.resources?.requests?.cpu && container.resources?.requests?.memory, "resource requests");
  check(pod.securityContext?.runAsNonRoot === true && pod.securityContext?.runAsUser === 10001,
        "runAsNonRoot as the image's user 10001");
}

if (failures.length > 0) {
  for (const failure of failures) console.error(`FAIL ${file}: ${failure}`);
  process.exit(1);
}
console.log(`${file}: ${objects.length} objects valid, deployment as documented`);
