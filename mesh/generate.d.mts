export interface CatalogMethod {
  service: string;
  serviceName: string;
  method: string;
  path: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
  http: { method: string; path: string; body: string }[];
  policy: {
    public: boolean;
    idempotent: boolean;
    internalCallers: string[];
    serviceCallers: string[];
    admin: boolean;
    rateClass: string;
  };
}
export interface MeshSettings {
  namespace: string;
  trustDomain: string;
  services: Record<string, { port: number; timeout: string; perTryTimeout: string }>;
  adminPortOffset: number;
  gateway: { name: string; port: number };
  pgbouncer: { name: string; port: number };
  ingress: {
    namespace: string;
    serviceAccount: string;
    selector: Record<string, string>;
    hosts: string[];
    credentialName: string;
  };
  jwt: { issuer: string; audiences: string[]; jwksPath: string };
  egressNamespaces: string[];
  retryOn: string;
  retryAttempts: number;
}
export type MeshObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: Istio specs are checked against Istio's schemas
  spec: any;
};
export const MESH: MeshSettings;
export function routeKind(
  method: CatalogMethod,
): "idempotent-unary" | "idempotent-server-streaming" | "streaming-no-retry" | "unary-no-retry";
export function generateMesh(
  catalog: readonly CatalogMethod[],
  m?: MeshSettings,
): Record<string, MeshObject[]>;
export function renderMesh(catalog: readonly CatalogMethod[], m?: MeshSettings): Record<string, string>;
