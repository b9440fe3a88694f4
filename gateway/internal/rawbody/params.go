package rawbody

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// setParam sets the field at a dotted path (proto or JSON names) from a path or query value.
// Repeated fields append; singular fields take the last value.
func setParam(msg protoreflect.Message, path, value string) error {
	names := strings.Split(path, ".")
	for i, name := range names {
		fields := msg.Descriptor().Fields()
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil {
			return fmt.Errorf("unknown field %q", path)
		}
		if i < len(names)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return fmt.Errorf("field %q: %s is not a message", path, name)
			}
			msg = msg.Mutable(fd).Message()
			continue
		}
		if fd.IsMap() {
			return fmt.Errorf("field %q: maps cannot be set from parameters", path)
		}
		v, err := parseValue(msg, fd, value)
		if err != nil {
			return fmt.Errorf("field %q: %w", path, err)
		}
		if fd.IsList() {
			msg.Mutable(fd).List().Append(v)
		} else {
			msg.Set(fd, v)
		}
	}
	return nil
}

func parseValue(parent protoreflect.Message, fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return protoreflect.ValueOfBytes(b), nil
			}
		}
		return protoreflect.Value{}, fmt.Errorf("%q is not base64", s)
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a boolean", s)
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)), numErr(err, s)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n), numErr(err, s)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)), numErr(err, s)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n), numErr(err, s)
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(f)), finiteErr(err, f, s)
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		return protoreflect.ValueOfFloat64(f), finiteErr(err, f, s)
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		if n, err := strconv.ParseInt(s, 10, 32); err == nil && fd.Enum().Values().ByNumber(protoreflect.EnumNumber(n)) != nil {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%q is not a value of %s", s, fd.Enum().FullName())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		// Well-known types (Timestamp, Duration, FieldMask, wrappers) take their JSON form.
		var m protoreflect.Message
		if fd.IsList() {
			m = parent.NewField(fd).List().NewElement().Message()
		} else {
			m = parent.NewField(fd).Message()
		}
		if err := protojson.Unmarshal([]byte(strconv.Quote(s)), m.Interface()); err != nil {
			if err2 := protojson.Unmarshal([]byte(s), m.Interface()); err2 != nil {
				return protoreflect.Value{}, fmt.Errorf("%q is not a valid %s", s, fd.Message().FullName())
			}
		}
		return protoreflect.ValueOfMessage(m), nil
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported kind %s", fd.Kind())
}

func numErr(err error, s string) error {
	if err != nil {
		return fmt.Errorf("%q is not a valid number for this field", s)
	}
	return nil
}

func finiteErr(err error, f float64, s string) error {
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%q is not a finite number", s)
	}
	return nil
}
