package breaking

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cometgen/cometgen/schema"
)

// Old is the old spec, read from where --against says.
type Old struct {
	Spec *schema.Spec
	// Ref is the --against value, for messages.
	Ref string
	tmp string // the temporary directory of a git revision, "" for none
	dir string // the spec's directory in it
	// display is what the spec's directory is called in positions.
	display string
}

// Close removes the files a git revision was read into.
func (o *Old) Close() error {
	if o == nil || o.tmp == "" {
		return nil
	}
	return os.RemoveAll(o.tmp)
}

// Fix rewrites a position in the temporary copy of a git revision to the
// path the file has in the working tree.
func (o *Old) Fix(p schema.Pos) schema.Pos {
	if o == nil || o.dir == "" {
		return p
	}
	if rel, err := filepath.Rel(o.dir, p.File); err == nil && !strings.HasPrefix(rel, "..") {
		p.File = filepath.Join(o.display, rel)
	}
	return p
}

// LoadOld loads the spec that specPath (the new spec) is compared against.
// ref is
//
//   - a spec file;
//   - a directory holding a file named like the new spec;
//   - a git revision of the repository the new spec is in (HEAD~1, main,
//     v1.2.0, a commit), or, as buf writes it, a repository and a revision:
//     .git#branch=main, .git#tag=v1.2.0, .git#ref=HEAD~1, .git#commit=abc123.
//
// A revision is read with git archive into a temporary directory, with
// every file of the spec's directory, so the files its $refs name are
// those of the revision. The error of a spec that does not load is a
// schema.ErrorList, its positions as they are in the working tree.
func LoadOld(ref, specPath string) (*Old, error) {
	if ref == "" {
		return nil, errors.New("--against is empty")
	}
	if repo, rev, ok, err := parseGitRef(ref); ok {
		if err != nil {
			return nil, err
		}
		return loadRevision(ref, repo, rev, specPath)
	}
	if fi, err := os.Stat(ref); err == nil {
		path := ref
		if fi.IsDir() {
			path = filepath.Join(ref, filepath.Base(specPath))
		}
		s, err := schema.Load(path)
		if err != nil {
			return nil, err
		}
		return &Old{Spec: s, Ref: ref}, nil
	}
	return loadRevision(ref, filepath.Dir(specPath), ref, specPath)
}

// parseGitRef splits a buf-style git input, repo#key=value.
func parseGitRef(ref string) (repo, rev string, ok bool, err error) {
	repo, frag, found := strings.Cut(ref, "#")
	if !found {
		return "", "", false, nil
	}
	if repo == "" {
		repo = "."
	}
	if filepath.Base(repo) == ".git" {
		repo = filepath.Dir(repo)
	}
	for _, kv := range strings.Split(frag, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "branch", "tag", "ref", "commit":
			if v == "" {
				return "", "", true, fmt.Errorf("--against %s: %s has no value", ref, k)
			}
			if rev != "" {
				return "", "", true, fmt.Errorf("--against %s: name one of branch, tag, ref or commit", ref)
			}
			rev = v
			if k == "branch" {
				rev = "refs/heads/" + v
				if _, err := git(repo, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
					rev = "refs/remotes/origin/" + v // a CI checkout may have only the remote branch
				}
			}
		default:
			return "", "", true, fmt.Errorf("--against %s: unknown key %q (branch, tag, ref or commit)", ref, k)
		}
	}
	if rev == "" {
		return "", "", true, fmt.Errorf("--against %s: name a branch, tag, ref or commit after #", ref)
	}
	return repo, rev, true, nil
}

// git runs git in dir and returns its standard output.
func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return out, nil
}

// loadRevision loads the spec at the revision rev of the repository at
// repo.
func loadRevision(ref, repo, rev, specPath string) (*Old, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("--against %s: %s is no file or directory, and git, which would read it as a revision, is not installed", ref, ref)
	}
	top, err := git(repo, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("--against %s: no such file or directory, and %s is not in a git repository", ref, repo)
	}
	root := strings.TrimSpace(string(top))
	commit, err := git(root, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("--against %s: no such file, directory or git revision (in %s)", ref, root)
	}
	abs, err := filepath.Abs(specPath)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("--against %s: %w", ref, err)
	}
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	relDir, err := filepath.Rel(rootReal, dir)
	if err != nil || strings.HasPrefix(relDir, "..") {
		return nil, fmt.Errorf("--against %s: the spec %s is not inside the repository %s", ref, specPath, root)
	}
	tmp, err := os.MkdirTemp("", "cometgen-breaking-")
	if err != nil {
		return nil, err
	}
	o := &Old{Ref: ref, tmp: tmp, dir: filepath.Join(tmp, relDir), display: filepath.Dir(specPath)}
	args := []string{"archive", "--format=tar", strings.TrimSpace(string(commit))}
	if relDir != "." {
		args = append(args, "--", filepath.ToSlash(relDir))
	}
	tarball, err := git(root, args...)
	if err == nil {
		err = untar(tmp, tarball)
	}
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("--against %s: %w", ref, err)
	}
	path := filepath.Join(o.dir, filepath.Base(specPath))
	if _, err := os.Stat(path); err != nil {
		o.Close()
		return nil, fmt.Errorf("--against %s: %s does not exist at that revision", ref, filepath.ToSlash(filepath.Join(relDir, filepath.Base(specPath))))
	}
	s, err := schema.Load(path)
	if err != nil {
		var list schema.ErrorList
		if errors.As(err, &list) {
			fixed := make(schema.ErrorList, len(list))
			for i, e := range list {
				fixed[i] = &schema.Error{Pos: o.Fix(e.Pos), Msg: e.Msg + " (in " + ref + ")"}
			}
			err = fixed
		}
		o.Close()
		return nil, err
	}
	o.Spec = s
	return o, nil
}

// untar writes the regular files and directories of a tar archive below
// dir.
func untar(dir string, data []byte) error {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("git archive: %w", err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			continue
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			b, err := io.ReadAll(io.LimitReader(tr, schema.MaxSpecSize+1))
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return err
			}
		}
	}
}
