/*
 * replay_main.c - the main() of a fuzz target built without libFuzzer: it runs each input file
 * named on the command line (a directory: each file in it, sorted) through LLVMFuzzerTestOneInput
 * once, so the ordinary presets replay the committed corpora under ctest. A crash or a STOP ends
 * the program as it would end the fuzzer; exits 1 when an input cannot be read or none was given.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_input.h"

static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (file == NULL || fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0 || fseek(file, 0, SEEK_SET) != 0 ||
        (data = malloc(size > 0 ? (size_t)size : 1)) == NULL || fread(data, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (file != NULL)
            fclose(file);
        free(data);
        return 1;
    }
    fclose(file);
    /* An exact-size copy: ASan sees a read past the input, as under libFuzzer. */
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    return 0;
}

static int replay_directory(const char *path, size_t *count)
{
    struct dirent **entries;
    int n = scandir(path, &entries, NULL, alphasort);
    int failures = 0;

    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", path);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char file[4096];
        struct stat st;

        snprintf(file, sizeof file, "%s/%s", path, entries[i]->d_name);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            failures += replay_file(file);
            (*count)++;
        }
        free(entries[i]);
    }
    free(entries);
    return failures;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int failures = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            failures += replay_directory(argv[i], &count);
        } else {
            failures += replay_file(argv[i]);
            count++;
        }
    }
    printf("replayed %zu inputs, %d unreadable\n", count, failures);
    return failures == 0 && count > 0 ? 0 : 1;
}
