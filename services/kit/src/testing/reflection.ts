// A minimal grpc.reflection.v1 client: lists the services a server exposes.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const require = createRequire(import.meta.url);

export function listServices(addr: string): Promise<string[]> {
  const root = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
  const def = loadSync("grpc/reflection/v1/reflection.proto", { includeDirs: [root], keepCase: true });
  const pkg = loadPackageDefinition(def) as GrpcObject & {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(addr, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = (
      client as unknown as {
        ServerReflectionInfo(): import("@grpc/grpc-js").ClientDuplexStream<unknown, unknown>;
      }
    ).ServerReflectionInfo();
    stream.on("data", (res: { list_services_response?: { service: { name: string }[] } }) => {
      resolve((res.list_services_response?.service ?? []).map((s) => s.name).sort());
      stream.end();
    });
    stream.on("error", reject);
    stream.write({ list_services: "*" });
  }).finally(() => client.close()) as Promise<string[]>;
}
