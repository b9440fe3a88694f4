package schema

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Resolver resolves types from the image first and from the Go registry second, so that
// error details of any type the contracts know can be rendered as JSON.
type Resolver struct {
	image      *dynamicpb.Types
	extensions map[protoreflect.FullName][]protoreflect.ExtensionType
}

func newResolver(files *protoregistry.Files) Resolver {
	r := Resolver{image: dynamicpb.NewTypes(files), extensions: map[protoreflect.FullName][]protoreflect.ExtensionType{}}
	var addExts func(xds protoreflect.ExtensionDescriptors)
	var addMsgs func(mds protoreflect.MessageDescriptors)
	addExts = func(xds protoreflect.ExtensionDescriptors) {
		for i := 0; i < xds.Len(); i++ {
			xd := xds.Get(i)
			r.extensions[xd.ContainingMessage().FullName()] = append(r.extensions[xd.ContainingMessage().FullName()], dynamicpb.NewExtensionType(xd))
		}
	}
	addMsgs = func(mds protoreflect.MessageDescriptors) {
		for i := 0; i < mds.Len(); i++ {
			addExts(mds.Get(i).Extensions())
			addMsgs(mds.Get(i).Messages())
		}
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		addExts(fd.Extensions())
		addMsgs(fd.Messages())
		return true
	})
	return r
}

// The zero Resolver (a handler built without an image, as in unit tests) resolves from the
// Go registry alone.
var noImage = dynamicpb.NewTypes(new(protoregistry.Files))

func (r Resolver) types() *dynamicpb.Types {
	if r.image == nil {
		return noImage
	}
	return r.image
}

func (r Resolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if t, err := r.types().FindMessageByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r Resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if t, err := r.types().FindMessageByURL(url); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r Resolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t, err := r.types().FindExtensionByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r Resolver) FindExtensionByNumber(m protoreflect.FullName, f protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t, err := r.types().FindExtensionByNumber(m, f); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, f)
}

// RangeExtensionsByMessage lists the image's extensions of a message, then the Go registry's.
func (r Resolver) RangeExtensionsByMessage(m protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	seen := map[protoreflect.FullName]bool{}
	stopped := false
	for _, t := range r.extensions[m] {
		seen[t.TypeDescriptor().FullName()] = true
		if stopped = !f(t); stopped {
			return
		}
	}
	protoregistry.GlobalTypes.RangeExtensionsByMessage(m, func(t protoreflect.ExtensionType) bool {
		return seen[t.TypeDescriptor().FullName()] || f(t)
	})
}

// FileResolver finds descriptors in the image, then in the Go registry (for the gateway's
// own health and reflection services).
type FileResolver struct{ Image *protoregistry.Files }

func (r FileResolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.Image.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (r FileResolver) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.Image.FindDescriptorByName(n); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(n)
}
