// Command tlogcheck verifies an exported Assay ledger with Go's transparency-log packages
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), independently of Assay's
// own verifier: every checkpoint's signature, the tiles against the latest root, every
// entry's inclusion, the consistency of each checkpoint with the latest, and every
// c2sp.org/tlog-proof@v1 file under proofs/.
//
// Usage: tlogcheck DIR
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

// dirTiles reads C2SP tiles (tile/<L>/<N>[.p/<W>]) from an export directory.
type dirTiles struct{ root string }

func (d dirTiles) Height() int { return height }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := os.ReadFile(filepath.Join(d.root, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(t), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// c2spPath is the x/mod tile path without its height element (C2SP tlog-tiles fixes it at 8).
func c2spPath(t tlog.Tile) string {
	p := t.Path()
	p = strings.Replace(p, "tile/8/data/", "tile/entries/", 1)
	return strings.Replace(p, "tile/8/", "tile/", 1)
}

func openCheckpoint(text []byte, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return checkpoint{}, errors.New("checkpoint body has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint size: %v", err)
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint root: %v", err)
	}
	if lines[0] != verifier.Name() {
		return checkpoint{}, fmt.Errorf("origin %q is not the key's name %q", lines[0], verifier.Name())
	}
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: root}}, nil
}

func bundle(root string, index int64, width int) ([][]byte, error) {
	t := tlog.Tile{H: height, L: -1, N: index, W: width}
	data, err := os.ReadFile(filepath.Join(root, c2spPath(t)))
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, fmt.Errorf("%s: truncated length", c2spPath(t))
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, fmt.Errorf("%s: truncated entry", c2spPath(t))
		}
		entries = append(entries, data[2:2+n])
		data = data[2+n:]
	}
	if len(entries) != width {
		return nil, fmt.Errorf("%s: %d entries, want %d", c2spPath(t), len(entries), width)
	}
	return entries, nil
}

func recordHashes(root string, size int64) ([]tlog.Hash, error) {
	hashes := make([]tlog.Hash, 0, size)
	for start := int64(0); start < size; start += 1 << height {
		width := int(size - start)
		if width > 1<<height {
			width = 1 << height
		}
		entries, err := bundle(root, start>>height, width)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			hashes = append(hashes, tlog.RecordHash(e))
		}
	}
	return hashes, nil
}

// checkOlderTiles checks the partial tiles and entry bundles kept for an earlier checkpoint:
// its tiles must hash to its root and its entries must be the first entries of the latest tree.
func checkOlderTiles(root string, tree tlog.Tree, latest []tlog.Hash) error {
	if got, err := tlog.TreeHash(tree.N, tlog.TileHashReader(tree, dirTiles{root})); err != nil || got != tree.Hash {
		return fmt.Errorf("its tiles do not hash to its root (%v)", err)
	}
	older, err := recordHashes(root, tree.N)
	if err != nil {
		return err
	}
	for i, h := range older {
		if h != latest[i] {
			return fmt.Errorf("entry %d differs from the latest tree's", i)
		}
	}
	return nil
}

func checkProofFile(path string, verifier note.Verifier, records []tlog.Hash) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	head, signed, found := bytes.Cut(text, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	if !found || len(lines) < 2 || lines[0] != "c2sp.org/tlog-proof@v1" {
		return errors.New("not a c2sp.org/tlog-proof@v1 document")
	}
	at := 1
	if strings.HasPrefix(lines[at], "extra ") {
		at++
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[at], "index "), 10, 64)
	if err != nil || !strings.HasPrefix(lines[at], "index ") {
		return errors.New("no index line")
	}
	var proof tlog.RecordProof
	for _, line := range lines[at+1:] {
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != tlog.HashSize {
			return fmt.Errorf("proof hash %q", line)
		}
		var h tlog.Hash
		copy(h[:], raw)
		proof = append(proof, h)
	}
	cp, err := openCheckpoint(signed, verifier)
	if err != nil {
		return err
	}
	if index < 0 || index >= int64(len(records)) {
		return fmt.Errorf("index %d outside the exported log", index)
	}
	return tlog.CheckRecord(proof, cp.tree.N, cp.tree.Hash, index, records[index])
}

func run(root string) error {
	vkey, err := os.ReadFile(filepath.Join(root, "vkey"))
	if err != nil {
		return err
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return fmt.Errorf("vkey: %v", err)
	}
	latestText, err := os.ReadFile(filepath.Join(root, "checkpoint"))
	if err != nil {
		return err
	}
	latest, err := openCheckpoint(latestText, verifier)
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	hashes := tlog.TileHashReader(latest.tree, dirTiles{root})
	if got, err := tlog.TreeHash(latest.tree.N, hashes); err != nil || got != latest.tree.Hash {
		return fmt.Errorf("tiles do not hash to the checkpoint's root (%v)", err)
	}
	records, err := recordHashes(root, latest.tree.N)
	if err != nil {
		return err
	}
	for i, h := range records {
		proof, err := tlog.ProveRecord(latest.tree.N, int64(i), hashes)
		if err == nil {
			err = tlog.CheckRecord(proof, latest.tree.N, latest.tree.Hash, int64(i), h)
		}
		if err != nil {
			return fmt.Errorf("entry %d: %v", i, err)
		}
	}
	older, _ := filepath.Glob(filepath.Join(root, "checkpoint.*"))
	sort.Strings(older)
	for _, path := range older {
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cp, err := openCheckpoint(text, verifier)
		if err == nil && cp.tree.N > latest.tree.N {
			err = errors.New("larger than the latest checkpoint")
		}
		if err == nil {
			var proof tlog.TreeProof
			if proof, err = tlog.ProveTree(latest.tree.N, cp.tree.N, hashes); err == nil {
				err = tlog.CheckTree(proof, latest.tree.N, latest.tree.Hash, cp.tree.N, cp.tree.Hash)
			}
		}
		if err == nil {
			err = checkOlderTiles(root, cp.tree, records)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
	proofs, _ := filepath.Glob(filepath.Join(root, "proofs", "*.tlog-proof"))
	for _, path := range proofs {
		if err := checkProofFile(path, verifier, records); err != nil {
			return fmt.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
	fmt.Printf("ok: %d entries, %d checkpoints, %d proofs (origin %s)\n", len(records), len(older), len(proofs), latest.origin)
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tlogcheck DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
}
