package synth

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
)

// DecodeOnly is the performance baseline: read every YAML file under dir and
// decode every document into a yaml.Node, on GOMAXPROCS workers, and nothing
// else. A scan is compared with this.
func DecodeOnly(dir string) (docs int, err error) {
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".yaml" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for f := range work {
				n, ferr := decodeFile(f)
				mu.Lock()
				docs += n
				if ferr != nil && err == nil {
					err = ferr
				}
				mu.Unlock()
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	return docs, err
}

func decodeFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	d := yaml.NewDecoder(f)
	n := 0
	for {
		var node yaml.Node
		if err := d.Decode(&node); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
