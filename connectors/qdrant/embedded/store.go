package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	pb "github.com/qdrant/go-client/qdrant"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// DBFile is the name of the data file inside the store directory.
const DBFile = "spladeq-embedded.db"

var (
	bucketCollections = []byte("collections")
	pointsPrefix      = "points/"
)

// Store holds the collections of one data directory.
type Store struct {
	db *bolt.DB

	mu          sync.RWMutex
	collections map[string]*collection
}

// Open opens (creating if needed) the store in dir and rebuilds its index.
// Only one process may open a directory at a time.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("embedded store %s: locked by another process", path)
		}
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	s := &Store{db: db, collections: map[string]*collection{}}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the data file.
func (s *Store) Close() error {
	if s == nil || s.db == nil {
		return nil
	}
	return s.db.Close()
}

func (s *Store) load() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		cb, err := tx.CreateBucketIfNotExists(bucketCollections)
		if err != nil {
			return err
		}
		return cb.ForEach(func(k, v []byte) error {
			cfg := &pb.CreateCollection{}
			if err := proto.Unmarshal(v, cfg); err != nil {
				return fmt.Errorf("collection %q: config: %w", k, err)
			}
			c, err := newCollection(cfg)
			if err != nil {
				return fmt.Errorf("collection %q: %w", k, err)
			}
			pbkt := tx.Bucket([]byte(pointsPrefix + string(k)))
			if pbkt != nil {
				err := pbkt.ForEach(func(key, val []byte) error {
					ps := &pb.PointStruct{}
					if err := proto.Unmarshal(val, ps); err != nil {
						return fmt.Errorf("point %s: %w", key, err)
					}
					p, err := c.pointFromStruct(ps)
					if err != nil {
						return fmt.Errorf("point %s: %w", key, err)
					}
					c.put(p)
					return nil
				})
				if err != nil {
					return fmt.Errorf("collection %q: %w", k, err)
				}
			}
			for _, key := range indexedKeys(tx, string(k)) {
				c.addKeywordIndex(key)
			}
			s.collections[string(k)] = c
			return nil
		})
	})
}

// errNotFound is returned for an unknown collection; the server maps it to
// codes.NotFound with Qdrant's wording.
type errNotFound struct{ name string }

func (e errNotFound) Error() string { return fmt.Sprintf("Collection `%s` doesn't exist!", e.name) }

// errInvalid is a request the store refuses; the server maps it to
// codes.InvalidArgument.
type errInvalid struct{ msg string }

func (e errInvalid) Error() string { return e.msg }

func invalidf(format string, args ...any) error { return errInvalid{fmt.Sprintf(format, args...)} }

func (s *Store) get(name string) (*collection, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.collections[name]
	if !ok {
		return nil, errNotFound{name}
	}
	return c, nil
}

// names returns the collection names, sorted.
func (s *Store) names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.collections))
	for n := range s.collections {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// create adds a collection; an existing name is an error, as in Qdrant.
func (s *Store) create(cfg *pb.CreateCollection) error {
	if cfg.GetCollectionName() == "" {
		return invalidf("collection name must not be empty")
	}
	c, err := newCollection(cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.collections[cfg.CollectionName]; ok {
		return invalidf("Wrong input: Collection `%s` already exists!", cfg.CollectionName)
	}
	data, err := proto.Marshal(c.cfg)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketCollections).Put([]byte(cfg.CollectionName), data); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists([]byte(pointsPrefix + cfg.CollectionName))
		return err
	})
	if err != nil {
		return err
	}
	s.collections[cfg.CollectionName] = c
	return nil
}

// drop deletes a collection; it reports whether it existed.
func (s *Store) drop(name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.collections[name]; !ok {
		return false, nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketCollections).Delete([]byte(name)); err != nil {
			return err
		}
		if b := tx.Bucket(bucketIndexes); b != nil {
			if err := b.Delete([]byte(name)); err != nil {
				return err
			}
		}
		if tx.Bucket([]byte(pointsPrefix+name)) != nil {
			return tx.DeleteBucket([]byte(pointsPrefix + name))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	delete(s.collections, name)
	return true, nil
}

// upsert validates every point, commits them in one transaction, then
// updates the index. Nothing is written when any point is invalid.
func (s *Store) upsert(name string, points []*pb.PointStruct) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	parsed := make([]*point, len(points))
	encoded := make([][]byte, len(points))
	for i, ps := range points {
		p, err := c.pointFromStruct(ps)
		if err != nil {
			return invalidf("Wrong input: points[%d] (id %s): %v", i, keyString(ps.GetId()), err)
		}
		parsed[i] = p
		if encoded[i], err = proto.Marshal(p.toStruct()); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(pointsPrefix + name))
		if b == nil {
			return errNotFound{name}
		}
		for i, p := range parsed {
			if err := b.Put([]byte(p.key), encoded[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range parsed {
		c.put(p)
	}
	c.maybeCompact()
	return nil
}

// remove deletes the points with the given keys (missing keys are ignored).
func (s *Store) remove(name string, selector *pb.PointsSelector) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keys, err := c.selected(selector)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(pointsPrefix + name))
		if b == nil {
			return errNotFound{name}
		}
		for _, k := range keys {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		c.del(k)
	}
	c.maybeCompact()
	return nil
}

// setMetadata merges md into a collection's metadata, as Qdrant merges
// it: a key given a null value is removed.
func (s *Store) setMetadata(name string, md map[string]*pb.Value) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := proto.Clone(c.cfg).(*pb.CreateCollection)
	if cfg.Metadata == nil {
		cfg.Metadata = map[string]*pb.Value{}
	}
	for k, v := range md {
		if _, null := v.GetKind().(*pb.Value_NullValue); v == nil || null {
			delete(cfg.Metadata, k)
			continue
		}
		cfg.Metadata[k] = v
	}
	data, err := proto.Marshal(cfg)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCollections).Put([]byte(name), data)
	})
	if err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}
