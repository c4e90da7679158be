// Command gonote checks a checkpoint note with Go's golang.org/x/mod/sumdb/note, an
// implementation of C2SP signed notes independent of the hub's: the log's Ed25519 signature with
// note.NewVerifier, and each witness's cosignature/v1 (signature type 0x04, C2SP tlog-cosignature)
// with a note.Verifier written here from the specification.
//
//	gonote LOG_VKEY [WITNESS_VKEY ...] < checkpoint
//
// It prints one line per verified signature, "<name> <key hash>", and exits 1 when the note
// does not verify (a witness's signature that is present but wrong fails it too).
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify checks a 72-byte timestamped signature over "cosignature/v1\ntime T\n" || checkpoint.
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > 1<<63-1 {
		return false
	}
	lines := bytes.Split(msg, []byte("\n"))
	if len(lines) < 4 || len(lines[0]) == 0 {
		return false // not a checkpoint: origin, size, root and the final newline at least
	}
	if _, err := strconv.ParseUint(string(lines[1]), 10, 64); err != nil {
		return false
	}
	signed := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
	return ed25519.Verify(v.key, signed, sig[8:])
}

func newCosignatureVerifier(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed witness key")
	}
	hash, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return nil, errors.New("not a cosignature/v1 Ed25519 witness key")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if binary.BigEndian.Uint32(h[:4]) != uint32(hash) {
		return nil, errors.New("witness key hash does not match")
	}
	return &cosignatureVerifier{name: parts[0], hash: uint32(hash), key: ed25519.PublicKey(raw[1:])}, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gonote LOG_VKEY [WITNESS_VKEY ...] < checkpoint")
		os.Exit(2)
	}
	logVerifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "log key:", err)
		os.Exit(2)
	}
	verifiers := []note.Verifier{logVerifier}
	for _, vkey := range os.Args[2:] {
		v, err := newCosignatureVerifier(vkey)
		if err != nil {
			fmt.Fprintln(os.Stderr, "witness key:", err)
			os.Exit(2)
		}
		verifiers = append(verifiers, v)
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		fmt.Println("FAILED:", err)
		os.Exit(1)
	}
	for _, sig := range n.Sigs {
		fmt.Printf("%s %08x\n", sig.Name, sig.Hash)
	}
}
