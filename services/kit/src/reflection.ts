import { descriptorSetBase64 } from "@filemesh/contracts";
import type { Server } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/** Server reflection from the embedded descriptor image, exposing only the given services. */
export function addReflection(server: Server, services: readonly string[]): void {
  const pkg = loadFileDescriptorSetFromBuffer(Buffer.from(descriptorSetBase64, "base64"));
  new ReflectionService(pkg, { services: [...services] }).addToServer(server);
}
