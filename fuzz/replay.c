/*
 * replay.c - a main() for fuzz targets, so that `make test` can feed each
 * target its corpus without libFuzzer (gcc builds, sanitizer builds).
 * Usage: fuzz_X FILE|DIR...  Each file is one input.
 *
 * Exit: 0 when every input ran; 1 when there was nothing to run (no
 * argument, or a directory without inputs: a corpus that is missing or
 * was emptied must not pass as a replay of nothing); 2 when a file or
 * directory cannot be read. A failed check in the target aborts.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	FILE *f;
	uint8_t *buf;
	long n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct dirent *de;
	struct stat st;
	char path[4096];
	int count = 0, here;
	DIR *d;

	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			perror(argv[i]);
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) == -1)
				return 2;
			count++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL) {
			perror(argv[i]);
			return 2;
		}
		here = 0;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			if (replay_file(path) == -1) {
				closedir(d);
				return 2;
			}
			here++;
		}
		closedir(d);
		if (here == 0) {
			fprintf(stderr, "%s: no inputs in %s (is the corpus "
			    "missing?)\n", argv[0], argv[i]);
			return 1;
		}
		count += here;
	}
	if (count == 0) {
		fprintf(stderr, "usage: %s FILE|DIR...: no inputs given\n",
		    argv[0]);
		return 1;
	}
	printf("%d inputs replayed\n", count);
	return 0;
}
