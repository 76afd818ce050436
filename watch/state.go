package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// StateFile is the name of the file, in the watched folder, where a watcher
// remembers what it has done. Its leading dot hides it; no name photoname.Safe
// makes can start with a dot, so it never collides with a photo.
const StateFile = ".qrsync-watch.json"

// stateVersion is the format written; a newer one is refused rather than
// misread.
const stateVersion = 1

// tempPattern names the temporary files of downloads and state writes. They
// are hidden, and any left by a crash are removed when a watcher starts.
const tempPattern = ".qrsync-*.part"

// state is the content of StateFile: per session, the position in its
// event stream and which file holds which image. One folder can collect
// several sessions, one after another.
type state struct {
	Version int `json:"version"`
	// Sessions is keyed by sessionKey, never by the session id itself: the
	// id is the viewer's secret, and the folder may be shared or synced
	// elsewhere.
	Sessions map[string]*sessionState `json:"sessions"`
}

// sessionState is what is known of one session.
type sessionState struct {
	// LastEventID is the id of the last event fully applied: the folder
	// reflects every event up to it.
	LastEventID string `json:"lastEventId,omitempty"`
	// Images maps an image id to its file.
	Images map[string]fileEntry `json:"images,omitempty"`
	// Ended is set once the session is over; its images are then
	// forgotten, and a watcher started on it again stops at once.
	Ended bool `json:"ended,omitempty"`
}

// fileEntry is one downloaded image.
type fileEntry struct {
	// File is the file name, relative to the folder.
	File string `json:"file"`
	// SHA256 is the hex SHA-256 of the bytes written, to tell later whether
	// the file is still the one downloaded (before deleting it).
	SHA256 string `json:"sha256,omitempty"`
}

// sessionKey is how the state file names a session: a hash of its id, which
// identifies it without revealing it.
func sessionKey(sessionID string) string {
	sum := sha256.Sum256([]byte("qrsync watch session\x00" + sessionID))
	return hex.EncodeToString(sum[:16])
}

// session returns the state of one session, creating it empty if needed.
func (s *state) session(key string) *sessionState {
	if s.Sessions == nil {
		s.Sessions = map[string]*sessionState{}
	}
	ss := s.Sessions[key]
	if ss == nil {
		ss = &sessionState{}
		s.Sessions[key] = ss
	}
	if ss.Images == nil {
		ss.Images = map[string]fileEntry{}
	}
	return ss
}

// owner returns the session key and image id that hold file (compared
// case-insensitively, as on macOS and Windows), if any.
func (s *state) owner(file string) (key, imageID string, ok bool) {
	for k, ss := range s.Sessions {
		for id, e := range ss.Images {
			if strings.EqualFold(e.File, file) {
				return k, id, true
			}
		}
	}
	return "", "", false
}

// loadState reads the state of dir; a missing file is an empty state.
func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", StateFile, err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s in %s is damaged (%v); remove it to start over: files already in the folder are recognised by their content and not fetched again", StateFile, dir, err)
	}
	if s.Version > stateVersion {
		return nil, fmt.Errorf("%s in %s was written by a newer qrsync (format %d)", StateFile, dir, s.Version)
	}
	s.Version = stateVersion
	for k, ss := range s.Sessions {
		if ss == nil {
			delete(s.Sessions, k)
			continue
		}
		for id, e := range ss.Images {
			// A state file edited by hand must not make us write or delete
			// outside the folder.
			if e.File == "" || e.File != filepath.Base(e.File) || e.File[0] == '.' {
				delete(ss.Images, id)
			}
		}
	}
	return &s, nil
}

// save writes the state atomically: a temporary file, synced, renamed over
// the old one. A crash leaves either the old state or the new one.
func (s *state) save(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := writeFileAtomic(dir, StateFile, b); err != nil {
		return fmt.Errorf("save %s: %w", StateFile, err)
	}
	return nil
}
