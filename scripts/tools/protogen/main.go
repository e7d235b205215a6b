package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/options"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// plugins are the protoc plugins protogen runs, in order. Their versions are
// pinned by scripts/tools/go.mod (see tools.go).
var plugins = []struct {
	name string // executable name, as protoc would look it up
	pkg  string // main package, built with `go build`
}{
	{"protoc-gen-go", "google.golang.org/protobuf/cmd/protoc-gen-go"},
	{"protoc-gen-go-grpc", "google.golang.org/grpc/cmd/protoc-gen-go-grpc"},
}

func main() {
	var (
		protoPath = flag.String("proto_path", "api-spec/proto", "root `dir` of the .proto files; import paths are relative to it")
		outDir    = flag.String("out", "api-spec/gen", "output `dir` for the generated Go files")
		param     = flag.String("opt", "module=edgeway.dev/api-spec/gen", "`parameter` passed to every plugin (as protoc's --go_opt / --go-grpc_opt)")
		pluginDir = flag.String("plugin_dir", "", "`dir` holding prebuilt protoc-gen-go and protoc-gen-go-grpc; when empty they are built with `go build` from the versions pinned in edgeway.dev/scripts/tools")
		prune     = flag.Bool("prune", true, "delete *.pb.go files under -out that this run did not generate")
		verbose   = flag.Bool("v", false, "print each file written or deleted")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: protogen [flags]\n\nCompiles every .proto under -proto_path and runs protoc-gen-go and protoc-gen-go-grpc on them.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	g := generator{protoPath: *protoPath, outDir: *outDir, param: *param, pluginDir: *pluginDir, prune: *prune, verbose: *verbose}
	if err := g.run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

type generator struct {
	protoPath, outDir, param, pluginDir string
	prune, verbose                      bool
}

func (g *generator) run(ctx context.Context) error {
	names, err := findProtos(g.protoPath)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no .proto files under %s", g.protoPath)
	}
	req, err := buildRequest(ctx, g.protoPath, names, g.param)
	if err != nil {
		return err
	}

	dir := g.pluginDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "protogen-plugins-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := buildPlugins(ctx, tmp); err != nil {
			return err
		}
		dir = tmp
	}

	files := map[string][]byte{} // path relative to outDir -> content
	var order []string
	for _, p := range plugins {
		resp, err := runPlugin(ctx, filepath.Join(dir, p.name), req)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if err := checkResponse(p.name, req, resp); err != nil {
			return err
		}
		for _, f := range resp.GetFile() {
			name := f.GetName()
			if name == "" || f.GetInsertionPoint() != "" {
				return fmt.Errorf("%s: insertion points and appended files are not supported (file %q)", p.name, name)
			}
			clean := path.Clean(name)
			if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
				return fmt.Errorf("%s: output file %q is outside the output dir", p.name, name)
			}
			if _, dup := files[clean]; dup {
				return fmt.Errorf("%s: output file %q generated twice", p.name, name)
			}
			files[clean] = []byte(f.GetContent())
			order = append(order, clean)
		}
	}
	return g.write(files, order)
}

// findProtos returns the slash-separated paths, relative to root, of every
// .proto file under root, sorted.
func findProtos(root string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(p) != ".proto" {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(names)
	return names, err
}

// buildRequest compiles names (relative to root) and returns the request a
// protoc invocation naming the same files would send to a plugin: every file
// and its transitive imports in dependency order, with names as the files to
// generate.
func buildRequest(ctx context.Context, root string, names []string, param string) (*pluginpb.CodeGeneratorRequest, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{root},
		}),
		// Comments end up in the generated code, as with protoc.
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := c.Compile(ctx, names...)
	if err != nil {
		return nil, err
	}

	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: names}
	if param != "" {
		req.Parameter = proto.String(param)
	}
	generate := map[string]bool{}
	for _, n := range names {
		generate[n] = true
	}
	seen := map[string]bool{}
	var visit func(f protoreflect.FileDescriptor) error
	visit = func(f protoreflect.FileDescriptor) error {
		if w, ok := f.(interface {
			Unwrap() protoreflect.FileDescriptor
		}); ok && w.Unwrap() != nil {
			f = w.Unwrap()
		}
		if seen[f.Path()] {
			return nil
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := range imports.Len() {
			if err := visit(imports.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		full := fileProto(f)
		if generate[f.Path()] {
			// As protoc does: full descriptors in source_file_descriptors,
			// and ones without source-retention options in proto_file.
			req.SourceFileDescriptors = append(req.SourceFileDescriptors, full)
		} else {
			// protoc only sends source info for the files to generate.
			full = proto.CloneOf(full)
			full.SourceCodeInfo = nil
		}
		stripped, err := options.StripSourceRetentionOptionsFromFile(full)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path(), err)
		}
		req.ProtoFile = append(req.ProtoFile, stripped)
		return nil
	}
	for _, f := range compiled {
		if err := visit(f); err != nil {
			return nil, err
		}
	}
	// SourceFileDescriptors must be in file_to_generate order.
	slices.SortFunc(req.SourceFileDescriptors, func(a, b *descriptorpb.FileDescriptorProto) int {
		return strings.Compare(a.GetName(), b.GetName())
	})
	return req, nil
}

func fileProto(f protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	if r, ok := f.(interface {
		FileDescriptorProto() *descriptorpb.FileDescriptorProto
	}); ok {
		return r.FileDescriptorProto()
	}
	return protodesc.ToFileDescriptorProto(f)
}

// buildPlugins builds the plugin executables into dir. The go command runs
// in the current directory, which must be inside the workspace (or the
// edgeway.dev/scripts/tools module), so that go.mod pins their versions.
func buildPlugins(ctx context.Context, dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, p := range plugins {
		args = append(args, p.pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// runPlugin runs a protoc plugin executable the way protoc does: the
// serialized request on stdin, the serialized response on stdout.
func runPlugin(ctx context.Context, exe string, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	in, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		os.Stderr.Write(stderr.Bytes())
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	return resp, nil
}

// checkResponse applies the checks protoc makes on a plugin's response.
func checkResponse(name string, req *pluginpb.CodeGeneratorRequest, resp *pluginpb.CodeGeneratorResponse) error {
	if resp.Error != nil {
		return fmt.Errorf("%s: %s", name, resp.GetError())
	}
	features := resp.GetSupportedFeatures()
	generate := map[string]bool{}
	for _, n := range req.GetFileToGenerate() {
		generate[n] = true
	}
	for _, f := range req.GetProtoFile() {
		if !generate[f.GetName()] {
			continue
		}
		if f.GetSyntax() == "editions" {
			if features&uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS) == 0 {
				return fmt.Errorf("%s: %s uses editions, which the plugin does not support", name, f.GetName())
			}
			e := int32(f.GetEdition())
			if e < resp.GetMinimumEdition() || e > resp.GetMaximumEdition() {
				return fmt.Errorf("%s: %s uses edition %v, outside what the plugin supports", name, f.GetName(), f.GetEdition())
			}
		}
		if usesProto3Optional(f) && features&uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) == 0 {
			return fmt.Errorf("%s: %s uses proto3 optional fields, which the plugin does not support", name, f.GetName())
		}
	}
	return nil
}

func usesProto3Optional(f *descriptorpb.FileDescriptorProto) bool {
	var inMsgs func([]*descriptorpb.DescriptorProto) bool
	inMsgs = func(msgs []*descriptorpb.DescriptorProto) bool {
		for _, m := range msgs {
			for _, fld := range m.GetField() {
				if fld.GetProto3Optional() {
					return true
				}
			}
			if inMsgs(m.GetNestedType()) {
				return true
			}
		}
		return false
	}
	if inMsgs(f.GetMessageType()) {
		return true
	}
	for _, x := range f.GetExtension() {
		if x.GetProto3Optional() {
			return true
		}
	}
	return false
}

// write writes files under g.outDir, leaving files whose content is already
// right untouched, and (with g.prune) deletes stale *.pb.go files.
func (g *generator) write(files map[string][]byte, order []string) error {
	for _, name := range order {
		dst := filepath.Join(g.outDir, filepath.FromSlash(name))
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, files[name], 0o644); err != nil {
			return err
		}
		if g.verbose {
			fmt.Fprintln(os.Stderr, "wrote", dst)
		}
	}
	if !g.prune {
		return nil
	}
	var stale, dirs []string
	err := filepath.WalkDir(g.outDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		rel, err := filepath.Rel(g.outDir, p)
		if err != nil {
			return err
		}
		if _, ok := files[filepath.ToSlash(rel)]; !ok && strings.HasSuffix(p, ".pb.go") {
			stale = append(stale, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return err
		}
		if g.verbose {
			fmt.Fprintln(os.Stderr, "deleted", p)
		}
	}
	// Remove directories left empty, deepest first (never outDir itself).
	for i := len(dirs) - 1; i > 0; i-- {
		entries, err := os.ReadDir(dirs[i])
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			if err := os.Remove(dirs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
