import { descriptorSetBase64 } from "@filemesh/contracts";
import type { Server } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/**
 * Server reflection from the embedded descriptor image, exposing only the given services.
 * The image's files go in as they are (own names, own imports): a proto-loader package
 * definition regroups them by package and drops files such as google/protobuf/timestamp.proto,
 * so clients like grpcurl could not resolve a single service (test/clients/grpcurl.test.ts).
 */
export function addReflection(server: Server, services: readonly string[]): void {
  const files = filesOf(Buffer.from(descriptorSetBase64, "base64"));
  const image = { image: { fileDescriptorProtos: files } } as unknown as PackageDefinition;
  new ReflectionService(image, { services: [...services] }).addToServer(server);
}

/** The serialized FileDescriptorProtos of a FileDescriptorSet (field 1, repeated bytes). */
function filesOf(set: Buffer): Buffer[] {
  let i = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = set[i++] ?? 0;
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  };
  const files: Buffer[] = [];
  while (i < set.length) {
    if (varint() !== 0x0a) throw new Error("descriptor image: expected only FileDescriptorSet.file");
    const len = varint();
    files.push(set.subarray(i, i + len));
    i += len;
  }
  return files;
}
