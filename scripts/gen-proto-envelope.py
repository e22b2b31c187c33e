"""Writes the transport's direct Envelope codec (Shared/Transport/EnvelopeWire.swift) and the
Swift types it codes (Shared/Wire/EnvelopeTypes.swift: Envelope, Status and their enums) from
common.proto (run by scripts/gen-proto, not by hand).

The transport encodes and decodes lattice.v1.Envelope without protobuf-c, on its hot path: the
Envelope header is sized first and written straight into the outgoing frame, and the payload
`bytes` field is left in place (written by the caller, read as a pointer into the frame). This
script writes the field numbers, wire types and sizes of that codec from the descriptors, so a
field added to common.proto changes the codec with no hand edit. The byte-level helpers (ProtobufWriter,
ProtobufReader) and what an unknown enum value means (DirectWireEnum) are
hand-written in Shared/Transport/ProtobufBytes.swift.

Per message M reachable from Envelope: `struct MEncoding` (sizes, computed once per frame) with
`write(_:to:)` and `static func decode`. Supported fields: uint64/uint32/int64/int32, bool,
enum, string (a NUL ends it, as protobuf-c's `char *`), one embedded message per field, and on
Envelope the one borrowed `bytes` field. Anything else stops the generator with a message.

The types: per message a public struct (stored properties and a memberwise init whose arguments
default to the field's protobuf default), per enum a public enum with the proto names as its
description. What else they do is hand-written beside them: the protobuf-c bridge
(Shared/Wire/Envelope.swift) and Status's convenience API (Shared/Wire/Status.swift).
"""
import importlib.util
from collections import namedtuple
import os
import sys
from google.protobuf import descriptor_pb2 as d

F = d.FieldDescriptorProto
ROOT = "Envelope"
BORROWED = {("Envelope", "payload")}   # bytes left in the frame: written and read by the caller
REUSED = {("Envelope", "method")}      # strings likely to repeat: decode reuses a known String
FieldCode = namedtuple("FieldCode", "stored size write decode")
SWIFT_NAMES = {"Code": "StatusCode"}   # proto enum -> Swift type, where the Swift API names it otherwise
DEFAULTS = {("Envelope", "version"): "Envelope.protocolVersion"}   # init defaults other than protobuf's
VARINTS = {F.TYPE_UINT64: "UInt64", F.TYPE_UINT32: "UInt32", F.TYPE_INT64: "Int64", F.TYPE_INT32: "Int32"}

# Property names follow the other generated types (gen-proto-swift.py's camel).
_spec = importlib.util.spec_from_file_location(
    "gen_proto_swift", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-proto-swift.py"))
_swift = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_swift)
camel = _swift.camel


def varint_bytes(value):
    out = []
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return out


def key_bytes(field, wire_type):
    return varint_bytes((field.number << 3) | wire_type)


class Gen:
    def __init__(self, common):
        self.common = common
        self.messages = {m.name: m for m in common.message_type}
        self.lines = []

    def emit(self, line=""):
        self.lines.append(line)

    def message_type(self, field):
        name = field.type_name.split(".lattice.v1.")[-1]
        if name not in self.messages:
            sys.exit(f"gen-proto-envelope: {field.name} refers to {name}, not a top-level message of common.proto")
        return name

    def reachable(self):
        order, todo = [], [ROOT]
        while todo:
            name = todo.pop(0)
            if name in order:
                continue
            order.append(name)
            todo += [self.message_type(f) for f in self.messages[name].field if f.type == F.TYPE_MESSAGE]
        return order

    def check(self, name, field):
        where = f"{name}.{field.name}"
        if field.label == F.LABEL_REPEATED or field.HasField("oneof_index"):
            sys.exit(f"gen-proto-envelope: {where}: repeated and oneof fields are not supported yet")
        if field.type == F.TYPE_BYTES and (name, field.name) not in BORROWED:
            sys.exit(f"gen-proto-envelope: {where}: only the borrowed payload may be bytes")
        if field.type not in VARINTS and field.type not in (F.TYPE_BOOL, F.TYPE_ENUM, F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE):
            sys.exit(f"gen-proto-envelope: {where}: field type {field.type} is not supported yet")

    def key(self, field, wire_type):
        return "; ".join(f"out.byte(0x{b:02X})" for b in key_bytes(field, wire_type))

    def field_code(self, f, reused, into="value."):
        """One field's Swift in each part of its message's codec, so each wire type is written in one
        place: stored properties of the Encoding, sizing lines, the write line and the decode case
        (which reads the field into `into` + its name: a property of `value`, or a local)."""
        prop, k = camel(f.name), len(key_bytes(f, 0))
        if f.type in VARINTS:
            t = VARINTS[f.type]
            read = "try reader.varint()" if t == "UInt64" else f"{t}(truncatingIfNeeded: try reader.varint())"
            return FieldCode(
                [], [f"        if value.{prop} != 0 {{ size += {k} + ProtobufWriter.varintSize(UInt64(truncatingIfNeeded: value.{prop})) }}"],
                f"        if value.{prop} != 0 {{ {self.key(f, 0)}; out.varint(UInt64(truncatingIfNeeded: value.{prop})) }}",
                f"            case ({f.number}, 0): {into}{prop} = {read}")
        if f.type == F.TYPE_BOOL:
            return FieldCode(
                [], [f"        if value.{prop} {{ size += {k + 1} }}"],
                f"        if value.{prop} {{ {self.key(f, 0)}; out.byte(1) }}",
                f"            case ({f.number}, 0): {into}{prop} = try reader.varint() != 0")
        if f.type == F.TYPE_ENUM:
            return FieldCode(
                [], [f"        if value.{prop}.wireValue != 0 {{ size += {k} + ProtobufWriter.varintSize(value.{prop}.wireValue) }}"],
                f"        if value.{prop}.wireValue != 0 {{ {self.key(f, 0)}; out.varint(value.{prop}.wireValue) }}",
                f"            case ({f.number}, 0): {into}{prop} = try .init(wireValue: reader.varint())")
        if f.type == F.TYPE_STRING:
            arg = f"reusing: known{camel(f.name, True)}" if f in reused else ""
            return FieldCode(
                [f"    /// `{prop}` up to its first NUL, as protobuf-c sends a `char *`.",
                 f"    let {prop}UTF8: Substring.UTF8View"],
                [f"        let {prop}UTF8 = ProtobufWriter.cString(value.{prop})",
                 f"        self.{prop}UTF8 = {prop}UTF8",
                 f"        if !{prop}UTF8.isEmpty {{ size += {k} + ProtobufWriter.varintSize(UInt64({prop}UTF8.count)) + {prop}UTF8.count }}"],
                f"        if !{prop}UTF8.isEmpty {{ {self.key(f, 2)}; out.lengthDelimited({prop}UTF8) }}",
                f"            case ({f.number}, 2): {into}{prop} = try reader.string({arg})")
        if f.type == F.TYPE_BYTES:
            return FieldCode(
                [], [f"        if {prop}Count > 0 {{ size += {k} + ProtobufWriter.varintSize(UInt64({prop}Count)) }}",
                     f"        self.{prop}Count = {prop}Count",
                     f"        {prop}Offset = size",
                     f"        size += {prop}Count"],
                f"        if {prop}Count > 0 {{ {self.key(f, 2)}; out.varint(UInt64({prop}Count)); {prop}(&out) }}",
                f"            case ({f.number}, 2): {prop} = try reader.lengthDelimited()")
        inner = self.message_type(f)   # check() admits nothing else
        return FieldCode(
            [f"    let {prop}: {inner}Encoding?"],
            [f"        let {prop} = value.{prop}.map {{ {inner}Encoding($0) }}",
             f"        self.{prop} = {prop}",
             f"        if let {prop} {{ size += {k} + ProtobufWriter.varintSize(UInt64({prop}.size)) + {prop}.size }}"],
            f"        if let {prop}, let inner = value.{prop} {{ {self.key(f, 2)}; out.varint(UInt64({prop}.size)); {prop}.write(inner, to: &out) }}",
            f"            case ({f.number}, 2): {into}{prop} = try {inner}Encoding.decode(reader.lengthDelimited(), into: {into}{prop})")

    def zero(self, owner, f):
        """`Type = default` of a local holding field `f` of message `owner` before it is read: the
        field's protobuf default, as its Swift type declares it (a nested enum named from outside)."""
        swift_type, default = Types(self.common).field_type(owner, f)
        if f.type == F.TYPE_ENUM:
            swift_type = ".".join(Types.swift_name(part) for part in f.type_name.split(".lattice.v1.")[-1].split("."))
        return f"{swift_type} = {default}"

    def message(self, name):
        msg = self.messages[name]
        for field in msg.field:
            self.check(name, field)
        borrowed = [f for f in msg.field if (name, f.name) in BORROWED]
        reused = [f for f in msg.field if (name, f.name) in REUSED]
        enc = f"{name}Encoding"
        self.emit(f"/// lattice.v1.{name}'s sizes on the wire, computed once for `write`.")
        self.emit(f"struct {enc} {{")
        for f in msg.field:
            for line in self.field_code(f, reused).stored:
                self.emit(line)
        self.emit(f"    /// Bytes of the encoded {name}.")
        self.emit("    let size: Int")
        if borrowed:
            self.emit(f"    /// Bytes before `{camel(borrowed[0].name)}`'s own bytes (after its key and length).")
            self.emit(f"    let {camel(borrowed[0].name)}Offset: Int")
            self.emit(f"    let {camel(borrowed[0].name)}Count: Int")
        self.emit()
        # -- sizes
        params = f"_ value: borrowing {name}" + "".join(f", {camel(f.name)}Count: Int" for f in borrowed)
        self.emit(f"    init({params}) {{")
        self.emit("        var size = 0")
        for f in msg.field:
            for line in self.field_code(f, reused).size:
                self.emit(line)
        self.emit("        self.size = size")
        self.emit("    }")
        self.emit()
        # -- write
        closure = "".join(f", {camel(f.name)}: (inout ProtobufWriter) -> Void" for f in borrowed)
        if borrowed:
            self.emit(f"    /// `{camel(borrowed[0].name)}` writes that field's bytes (`{camel(borrowed[0].name)}Count` of them) where `out` stands.")
        self.emit(f"    func write(_ value: {name}, to out: inout ProtobufWriter{closure}) {{")
        for f in msg.field:
            self.emit(self.field_code(f, reused).write)
        self.emit("    }")
        self.emit()
        # -- decode
        known = "".join(f", known{camel(f.name, True)}: String" for f in reused)
        result = f"({name}, " + ", ".join(f"{camel(f.name)}: UnsafeBufferPointer<UInt8>" for f in borrowed) + ")" if borrowed else name
        root = name == ROOT
        if root:
            # The root is never merged into: its fields are read into locals and the value is made
            # once at the end. A `var value = previous ?? zero` cost one more copy and destroy of a
            # whole Envelope per frame, through its value witnesses (uprobes on swift_retain and
            # swift_release, transport-bench server, session 16).
            self.emit(f"    /// Reads one {name}. Unknown fields are skipped.")
            self.emit(f"    static func decode(_ bytes: UnsafeBufferPointer<UInt8>{known}) throws -> {result} {{")
            self.emit("        var reader = ProtobufReader(bytes: bytes)")
            for f in msg.field:
                if f not in borrowed:
                    self.emit(f"        var {camel(f.name)}: {self.zero(name, f)}")
        else:
            self.emit(f"    /// Reads one {name}; fields a previous copy of the message set stay unless the bytes set them again")
            self.emit("    /// (protobuf merges repeated embedded messages). Unknown fields are skipped.")
            self.emit(f"    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, into previous: {name}? = nil{known}) throws -> {result} {{")
            self.emit("        var reader = ProtobufReader(bytes: bytes)")
            self.emit(f"        var value = previous ?? {name}.wireZero")
        for f in borrowed:
            self.emit(f"        var {camel(f.name)} = UnsafeBufferPointer<UInt8>(start: nil, count: 0)")
        self.emit("        while !reader.atEnd {")
        self.emit("            let key = try reader.varint()")
        self.emit("            switch (key >> 3, key & 7) {")
        for f in msg.field:
            self.emit(self.field_code(f, reused, into="" if root else "value.").decode)
        self.emit("            default: try reader.skip(wireType: key & 7, field: key >> 3)")
        self.emit("            }")
        self.emit("        }")
        if root:
            made = f"{name}(" + ", ".join(f"{camel(f.name)}: {camel(f.name)}" for f in msg.field if f not in borrowed) + ")"
        else:
            made = "value"
        self.emit("        return " + (f"({made}, " + ", ".join(camel(f.name) for f in borrowed) + ")" if borrowed else made))
        self.emit("    }")
        self.emit("}")

    def file(self):
        self.emit("// Generated by scripts/gen-proto from proto/lattice/v1/common.proto (scripts/gen-proto-envelope.py). Do not edit.")
        self.emit("import Wire")
        for name in self.reachable():
            self.emit()
            self.message(name)
        return "\n".join(self.lines) + "\n"


class Types:
    """The public Swift types of the messages and enums the codec reaches (module Wire)."""

    def __init__(self, common):
        self.gen = Gen(common)
        self.enums = {e.name: (e, [5, i]) for i, e in enumerate(common.enum_type)}
        self.comments = {}
        for loc in common.source_code_info.location:
            text = (loc.leading_comments or loc.trailing_comments).strip()
            if text:
                self.comments[tuple(loc.path)] = text
        self.lines = []

    def emit(self, line=""):
        self.lines.append(line)

    def doc(self, path, indent):
        for line in self.comments.get(tuple(path), "").splitlines():
            self.emit(f"{indent}/// {line.strip()}".rstrip())

    @staticmethod
    def swift_name(proto_name):
        return SWIFT_NAMES.get(proto_name, proto_name)

    def field_type(self, owner, f):
        """(Swift type, protobuf default) of field `f` of message `owner`."""
        if f.type in VARINTS:
            return VARINTS[f.type], "0"
        if f.type == F.TYPE_BOOL:
            return "Bool", "false"
        if f.type == F.TYPE_STRING:
            return "String", '""'
        if f.type == F.TYPE_BYTES:
            return "[UInt8]", "[]"
        if f.type == F.TYPE_MESSAGE:
            return f"{self.swift_name(self.gen.message_type(f))}?", "nil"
        name = f.type_name.split(".lattice.v1.")[-1]
        enum, _ = self.enum_named(name)
        local = name.removeprefix(f"{owner}.")   # a nested enum is named from inside its message
        first = enum.value[0].name[len(_swift.enum_prefix([v.name for v in enum.value])):]
        return self.swift_name(local), f".{camel(first)}"

    def enum_named(self, name):
        if "." in name:
            owner, inner = name.split(".", 1)
            message = self.gen.messages[owner]
            for k, e in enumerate(message.enum_type):
                if e.name == inner:
                    return e, [4, list(self.gen.messages).index(owner), 4, k]
            sys.exit(f"gen-proto-envelope: {name} is not an enum of common.proto")
        if name not in self.enums:
            sys.exit(f"gen-proto-envelope: {name} is not a top-level enum of common.proto")
        return self.enums[name]

    def enum(self, enum, path, indent):
        """Raw values are Int32, as protobuf's enums are; the description is the proto name."""
        names = [v.name for v in enum.value]
        prefix = _swift.enum_prefix(names)
        self.doc(path, indent)
        self.emit(f"{indent}public enum {self.swift_name(enum.name)}: Int32, Sendable, CaseIterable, CustomStringConvertible {{")
        for j, v in enumerate(enum.value):
            self.doc(path + [2, j], indent + "    ")
            self.emit(f"{indent}    case {camel(v.name[len(prefix):])} = {v.number}")
        self.emit()
        self.emit(f"{indent}    public var description: String {{")
        self.emit(f"{indent}        switch self {{")
        for v in enum.value:
            self.emit(f"{indent}        case .{camel(v.name[len(prefix):]).strip('`')}: \"{v.name}\"")
        self.emit(f"{indent}        }}")
        self.emit(f"{indent}    }}")
        self.emit(f"{indent}}}")

    def message(self, name):
        msg = self.gen.messages[name]
        path = [4, list(self.gen.messages).index(name)]
        self.doc(path, "")
        self.emit(f"public struct {name}: Sendable, Equatable {{")
        for k, enum in enumerate(msg.enum_type):
            self.enum(enum, path + [4, k], "    ")
            self.emit()
        props = []
        for i, f in enumerate(msg.field):
            t, default = self.field_type(name, f)
            props.append((camel(f.name), t, DEFAULTS.get((name, f.name), default)))
            self.doc(path + [2, i], "    ")
            self.emit(f"    public var {camel(f.name)}: {t}")
        self.emit()
        # Inlinable: the transport builds an Envelope per frame, and a call across the module
        # boundary set every field (the payload's default `[]` too) before the transport's own.
        self.emit("    @inlinable")
        self.emit("    public init(" + ", ".join(f"{p}: {t} = {default}" for p, t, default in props) + ") {")
        for p, _, _ in props:
            self.emit(f"        self.{p.strip('`')} = {p}")
        self.emit("    }")
        self.emit("}")

    def file(self):
        self.emit("// Generated by scripts/gen-proto from proto/lattice/v1/common.proto (scripts/gen-proto-envelope.py). Do not edit.")
        messages = self.gen.reachable()
        used = [f.type_name.split(".lattice.v1.")[-1] for m in messages for f in self.gen.messages[m].field if f.type == F.TYPE_ENUM]
        for name, (enum, path) in self.enums.items():
            if name in used:
                self.emit()
                self.enum(enum, path, "")
        for name in messages:
            self.emit()
            self.message(name)
        return "\n".join(self.lines) + "\n"


def main():
    descriptor_set, codec_file, types_file = sys.argv[1], sys.argv[2], sys.argv[3]
    fileset = d.FileDescriptorSet()
    with open(descriptor_set, "rb") as handle:
        fileset.ParseFromString(handle.read())
    common = [f for f in fileset.file if f.name == "lattice/v1/common.proto"]
    if not common:
        sys.exit("gen-proto-envelope: lattice/v1/common.proto is not in the descriptor set")
    for out_file, writer in ((codec_file, Gen), (types_file, Types)):
        with open(out_file, "w") as handle:
            handle.write(writer(common[0]).file())
        print(os.path.basename(out_file))


if __name__ == "__main__":
    main()
